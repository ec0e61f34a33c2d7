from .algorithms import POA
from .heads import MultiProjectionHead, ProjectionHead
from .losses import (DINOClsLoss, IBOTPatchLoss, KoLeoLoss,
                     SameViewDistillLoss, sinkhorn_knopp)

__all__ = [
    'POA', 'MultiProjectionHead', 'ProjectionHead', 'DINOClsLoss',
    'IBOTPatchLoss', 'KoLeoLoss', 'SameViewDistillLoss', 'sinkhorn_knopp'
]

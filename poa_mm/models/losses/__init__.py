from .dino_loss import DINOClsLoss, SameViewDistillLoss, cross_entropy
from .ibot_loss import IBOTPatchLoss
from .koleo_loss import KoLeoLoss
from .sinkhorn_knopp import sinkhorn_knopp

__all__ = [
    'DINOClsLoss', 'SameViewDistillLoss', 'IBOTPatchLoss', 'KoLeoLoss',
    'sinkhorn_knopp', 'cross_entropy'
]

from .algorithms import POA
from .backbones import POAStaticResNet
from .heads import MultiProjectionHead, ProjectionHead
from .losses import (DINOClsLoss, IBOTPatchLoss, KoLeoLoss,
                     SameViewDistillLoss, sinkhorn_knopp)
from .necks import POASimpleFeaturePyramid

__all__ = [
    'POA', 'POAStaticResNet', 'MultiProjectionHead', 'ProjectionHead',
    'DINOClsLoss', 'IBOTPatchLoss', 'KoLeoLoss', 'SameViewDistillLoss',
    'sinkhorn_knopp', 'POASimpleFeaturePyramid'
]

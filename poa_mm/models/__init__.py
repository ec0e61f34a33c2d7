from .algorithms import POA
from .backbones import POAStaticResNet
from .heads import MultiProjectionHead, ProjectionHead
from .necks import POASimpleFeaturePyramid
from .losses import (
                     DINOClsLoss,
                     IBOTPatchLoss,
                     KoLeoLoss,
                     SameViewDistillLoss,
                     sinkhorn_knopp,
)

__all__ = [
    'POA', 'POAStaticResNet', 'MultiProjectionHead', 'ProjectionHead', 'DINOClsLoss',
    'IBOTPatchLoss', 'POASimpleFeaturePyramid', 'KoLeoLoss', 'SameViewDistillLoss', 'sinkhorn_knopp'
]

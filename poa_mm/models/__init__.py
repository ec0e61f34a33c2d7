from .algorithms import POA
from .backbones import POAStaticResNet
from .classifiers import ElasticImageClassifier, distill_loss
from .heads import ElasticLinearClsHead, MultiProjectionHead, ProjectionHead
from .losses import (DINOClsLoss, IBOTPatchLoss, KoLeoLoss,
                     SameViewDistillLoss, sinkhorn_knopp)
from .necks import POASimpleFeaturePyramid

__all__ = [
    'POA', 'POAStaticResNet', 'ElasticImageClassifier', 'distill_loss',
    'ElasticLinearClsHead', 'MultiProjectionHead', 'ProjectionHead',
    'DINOClsLoss', 'IBOTPatchLoss', 'KoLeoLoss', 'SameViewDistillLoss',
    'sinkhorn_knopp', 'POASimpleFeaturePyramid'
]

from .downstream import (
                         BackboneLayerDecayOptimWrapperConstructor,
                         PretrainedBackboneCheckHook,
)
from .hooks import ElasticSamplingHook, POAScheduleHook, cosine_schedule
from .optim_wrapper import BF16AutocastOptimWrapper
from .optimizers import POAOptimWrapper, POAOptimWrapperConstructor
from .subnet_sampler import SubnetSampler

__all__ = [
    'BackboneLayerDecayOptimWrapperConstructor', 'PretrainedBackboneCheckHook',
    'ElasticSamplingHook', 'POAScheduleHook', 'cosine_schedule',
    'BF16AutocastOptimWrapper', 'POAOptimWrapper',
    'POAOptimWrapperConstructor', 'SubnetSampler'
]

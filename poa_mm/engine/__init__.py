from .checkpoint_hook import AtomicCheckpointHook
from .family_knn_hook import FamilyKNNHook
from .family_val_loop import FamilyTestLoop, FamilyValLoop
from .hooks import ElasticSamplingHook, POAScheduleHook, SupernetMetadataHook
from .model_wrapper import POADistributedDataParallel
from .pretrained_backbone import (BackboneLayerDecayOptimWrapperConstructor,
                                  PretrainedBackboneCheckHook)
from .preemption import (PreemptionHook, TrainingPreempted,
                         protect_loader_workers)
from .optim_constructors import POAOptimWrapperConstructor
from .optim_wrapper import (BF16AutocastOptimWrapper, NonFiniteLossError,
                            POAOptimWrapper)
from .schedules import cosine_schedule, scaled_lr
from .subnet_sampler import SubnetSampler
from .unreadable_images_hook import UnreadableImagesHook

__all__ = [
    'AtomicCheckpointHook',
    'BackboneLayerDecayOptimWrapperConstructor', 'PretrainedBackboneCheckHook',
    'ElasticSamplingHook', 'POAScheduleHook', 'cosine_schedule', 'scaled_lr',
    'BF16AutocastOptimWrapper', 'NonFiniteLossError', 'POAOptimWrapper',
    'POAOptimWrapperConstructor', 'SubnetSampler',
    'POADistributedDataParallel', 'FamilyKNNHook', 'FamilyValLoop',
    'FamilyTestLoop', 'SupernetMetadataHook', 'PreemptionHook',
    'TrainingPreempted', 'protect_loader_workers', 'UnreadableImagesHook'
]

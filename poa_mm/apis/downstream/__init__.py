"""Ready MMDetection 3.x / MMSegmentation 1.x configs for extracted
sub-networks (checkpoints written by tools/extract_subnet.py). What a family
contributes (feature channels, necks, drop path, size class) is its
``downstream_spec``."""
from .common import family_spec, write_config
from .mmdet import DET_TEMPLATES, mmdet_config
from .mmpretrain import (ClsSettings, elastic_finetune_config,
                         mmpretrain_config)
from .mmseg import SEG_TEMPLATES, mmseg_config

__all__ = [
    'ClsSettings', 'DET_TEMPLATES', 'SEG_TEMPLATES',
    'elastic_finetune_config',
    'family_spec', 'mmdet_config', 'mmpretrain_config', 'mmseg_config',
    'write_config'
]

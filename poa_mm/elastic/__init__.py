from .resnet import ElasticResNet, export_resnet_state_dict
from .search_space import SearchSpace, evenly_spaced_indices, grid_search_space
from .spec import SubnetSpec
from .swin import (ElasticSwin, batch_safe_swin_export,
                   export_swin_state_dict)
from .vit import ElasticViT, export_vit_state_dict

# Context managers every ONNX export runs under: each family's fixes for
# stock models that do not export as they are.
EXPORT_PATCHES = (batch_safe_swin_export, )

__all__ = [
    'EXPORT_PATCHES',
    'SubnetSpec', 'SearchSpace', 'grid_search_space', 'evenly_spaced_indices',
    'ElasticViT', 'export_vit_state_dict', 'ElasticResNet',
    'export_resnet_state_dict', 'ElasticSwin', 'export_swin_state_dict'
]

from .data_preprocessor import POADataPreprocessor
from .loading import CorruptImageError, LoadCheckedImage
from .masking import BlockMaskGenerator, batch_masks, mask_patch_weights
from .transforms import POAMultiCrop

__all__ = [
    'POAMultiCrop', 'POADataPreprocessor', 'BlockMaskGenerator',
    'batch_masks', 'mask_patch_weights', 'LoadCheckedImage',
    'CorruptImageError'
]

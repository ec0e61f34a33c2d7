"""Image loading that names the file it could not read."""
from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS


class CorruptImageError(ValueError):
    """An image file that could not be decoded (truncated, another format,
    unreadable)."""


@TRANSFORMS.register_module()
class LoadCheckedImage(LoadImageFromFile):
    """``LoadImageFromFile`` that fails with one line naming the file, or
    skips it.

    mmcv's loader raises a decoder traceback or a bare assertion for a
    truncated or non-image file. This one raises :class:`CorruptImageError`
    ("cannot read image PATH: why"), or with ``skip_corrupt=True`` logs the
    file and returns None, so that a training dataset draws another image
    instead (MMEngine's ``BaseDataset`` refetch). Test-mode datasets (k-NN
    banks, queries) refuse None, so evaluation folders must be clean.

    Args:
        skip_corrupt (bool): Skip unreadable files in training.
            Defaults to False.
        **kwargs: ``LoadImageFromFile``'s arguments.
    """

    def __init__(self, skip_corrupt: bool = False, **kwargs):
        kwargs.pop('ignore_empty', None)
        super().__init__(ignore_empty=False, **kwargs)
        self.skip_corrupt = skip_corrupt

    def transform(self, results: dict):
        try:
            return super().transform(results)
        except Exception as e:  # decoder errors, mmcv's None assertion
            path = results.get('img_path')
            reason = str(e).strip().splitlines()[-1] if str(e).strip() \
                else type(e).__name__
            if 'failed to load image' in reason:
                reason = 'not a decodable image'
            if self.skip_corrupt:
                print_log(f'skipping unreadable image {path}: {reason}',
                          logger='current', level=30)
                return None
            raise CorruptImageError(
                f'cannot read image {path}: {reason} (remove it, or set '
                'skip_corrupt=True in the training pipeline\'s '
                'LoadCheckedImage)') from None

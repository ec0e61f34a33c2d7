"""Image loading that names the file it could not read, and skips a few
broken files in a big training folder."""
import os
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS

from ..utils import check_number

# Where skipped files are listed, one path per line, when set (tools/train.py
# sets it to WORK_DIR/unreadable_images.txt; every loader process appends).
UNREADABLE_LOG_ENV = 'POA_MM_UNREADABLE_LOG'
# A loader process stops the run only past this many unreadable files, or
# past the fraction, whichever is larger: a few broken files early in a
# days-long run must not end it.
MIN_TOLERATED = 10


class CorruptImageError(ValueError):
    """An image file that could not be decoded (truncated, another format,
    unreadable), or too many of them."""


def read_failure(error: Exception) -> str:
    """The last line of a decoder error, in words."""
    reason = str(error).strip().splitlines()[-1] if str(error).strip() \
        else type(error).__name__
    if 'buf.empty()' in reason:  # OpenCV's assertion on 0 bytes
        return 'an empty file'
    return 'not a decodable image' if 'failed to load image' in reason \
        else reason


def unreadable_listed(path: Optional[str] = None) -> int:
    """How many distinct files the skip list (``path``, else the one
    :data:`UNREADABLE_LOG_ENV` names) holds; 0 without one."""
    path = path or os.environ.get(UNREADABLE_LOG_ENV)
    if not path or not os.path.isfile(path):
        return 0
    with open(path, errors='replace') as f:
        return len({line.rstrip('\n') for line in f if line.strip()})


@TRANSFORMS.register_module()
class LoadCheckedImage(LoadImageFromFile):
    """``LoadImageFromFile`` that fails with one line naming the file, or
    skips it and counts.

    mmcv's loader raises a decoder traceback or a bare assertion for a
    truncated or non-image file. This one raises :class:`CorruptImageError`
    ("cannot read image PATH: why"), or with ``skip_corrupt=True`` (the
    training pipelines of the shipped configs) warns in one line per file,
    lists it in the skip list (:data:`UNREADABLE_LOG_ENV`) and returns
    None, so that a training dataset draws another image instead (MMEngine's
    ``BaseDataset`` refetch). Once more than ``max_unreadable`` of the
    images a loader process has read were unreadable (and more than
    :data:`MIN_TOLERATED`), the run stops with one line: a folder that
    broken needs ``tools/check_images.py`` first. Test-mode datasets (k-NN
    banks, queries) refuse None, so evaluation folders must be clean.

    Grayscale, palette, 16-bit, RGBA and CMYK files are read as 8-bit
    3-channel images, as MMPretrain's ``LoadImageFromFile`` reads them.

    Args:
        skip_corrupt (bool): Skip unreadable files in training.
            Defaults to False.
        max_unreadable (float): The largest tolerated fraction of
            unreadable files when skipping. Defaults to 0.001 (0.1 %).
        **kwargs: ``LoadImageFromFile``'s arguments.
    """

    def __init__(self, skip_corrupt: bool = False,
                 max_unreadable: float = 0.001, **kwargs):
        kwargs.pop('ignore_empty', None)
        super().__init__(ignore_empty=False, **kwargs)
        self.skip_corrupt = skip_corrupt
        self.max_unreadable = check_number('LoadCheckedImage: max_unreadable',
                                           max_unreadable, 0., 1.)
        self.num_read = 0
        self.unreadable = set()

    def transform(self, results: dict):
        try:
            loaded = super().transform(results)
        except Exception as e:  # decoder errors, mmcv's None assertion
            return self._failed(results.get('img_path'), read_failure(e))
        self.num_read += 1
        return loaded

    def _failed(self, path: str, reason: str):
        if not self.skip_corrupt:
            raise CorruptImageError(
                f'cannot read image {path}: {reason} (remove it, or set '
                'skip_corrupt=True in the training pipeline\'s '
                'LoadCheckedImage)')
        if path not in self.unreadable:
            self.unreadable.add(path)
            print_log(f'skipping unreadable image {path}: {reason}',
                      logger='current', level=30)
            log = os.environ.get(UNREADABLE_LOG_ENV)
            if log:
                with open(log, 'a') as f:
                    f.write(f'{path}\n')
        seen = self.num_read + len(self.unreadable)
        if len(self.unreadable) > max(MIN_TOLERATED,
                                      self.max_unreadable * seen):
            raise CorruptImageError(
                f'{len(self.unreadable)} of the {seen} images this loader '
                f'read are unreadable (more than max_unreadable='
                f'{self.max_unreadable:g}), the last {path}: list them with '
                'tools/check_images.py FOLDER and remove them')
        return None

"""Every unreadable image of a folder, before a run reads it."""
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

from mmengine.utils import track_parallel_progress

from mmcv.transforms import LoadImageFromFile

from ..datasets.loading import read_failure

# What MMPretrain's CustomDataset reads by default (case-insensitive).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')


def image_files(folder: str,
                extensions: Sequence[str] = IMAGE_EXTENSIONS) -> List[str]:
    """The image files under ``folder`` (nested folders too), sorted."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'not a folder: {folder}')
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        found += [osp.join(root, f) for f in sorted(files)
                  if osp.splitext(f)[1].lower() in extensions]
    return found


def read_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be read as training reads it
    (``LoadCheckedImage``'s loader), or None."""
    try:
        LoadImageFromFile(ignore_empty=False).transform(dict(img_path=path))
    except Exception as e:  # decoder errors, mmcv's None assertion
        return read_failure(e)
    return None


def _check(path: str) -> Tuple[str, Optional[str]]:
    return path, read_problem(path)


def unreadable_images(folder: str, workers: int = 4
                      ) -> Tuple[int, List[Tuple[str, str]]]:
    """``(number of images, [(path, reason), ...])`` for ``folder``, read
    by ``workers`` processes with a progress bar and ETA (on stderr)."""
    paths = image_files(folder)
    if not paths:
        return 0, []
    workers = max(1, min(workers, len(paths)))
    results = track_parallel_progress(
        _check, paths, nproc=workers,
        chunksize=max(1, min(256, len(paths) // (8 * workers))),
        keep_order=False, file=sys.stderr)
    return len(paths), sorted((p, why) for p, why in results if why)


__all__ = ['IMAGE_EXTENSIONS', 'image_files', 'read_problem',
           'unreadable_images']

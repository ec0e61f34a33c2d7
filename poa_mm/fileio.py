"""Writing files without losing any: atomic writes that never leave a
partial file under the final name, and never over one of the inputs."""
import os
import os.path as osp
import tempfile
from typing import Callable, Optional, Sequence

import torch


PARTIAL_PREFIX = '.partial-'  # the temporary files of write_atomic


def check_not_an_input(out: str, inputs: Sequence[Optional[str]]) -> None:
    """Refuse (``ValueError``) an output path that is one of the command's
    inputs (the same file, also through a link): no tool writes over what
    it reads, with or without ``--overwrite``."""
    for path in inputs:
        if not path or not osp.exists(path):
            continue
        if osp.abspath(out) == osp.abspath(path) or (
                osp.exists(out) and osp.samefile(out, path)):
            raise ValueError(f'{out} is an input of this command ({path}); '
                             'write the output to another path')


def write_atomic(out: str, write: Callable[[str], None],
                 overwrite: bool = False,
                 inputs: Sequence[Optional[str]] = ()) -> None:
    """``write(tmp)`` to a temporary file next to ``out``, then rename, so
    that a failure or a kill never leaves a partial file under ``out``;
    ``out`` is never one of ``inputs`` (:func:`check_not_an_input`)."""
    check_not_an_input(out, inputs)
    if osp.exists(out) and not overwrite:
        raise FileExistsError(f'{out} exists; pass --overwrite to replace '
                              'it')
    folder = osp.dirname(osp.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, e.strerror, out) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=PARTIAL_PREFIX,
                                   suffix=osp.splitext(out)[1], dir=folder)
    except OSError as e:  # a read-only or full disk: name the output
        raise OSError(e.errno, e.strerror, out) from None
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates 0600; give the file the mode the umask asks for.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def save_atomic(obj: dict, out: str, overwrite: bool = False,
                inputs: Sequence[Optional[str]] = ()) -> None:
    """``torch.save`` atomically (:func:`write_atomic`)."""
    write_atomic(out, lambda tmp: torch.save(obj, tmp), overwrite, inputs)

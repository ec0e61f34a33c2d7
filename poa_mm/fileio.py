"""Writing files without losing any (atomic writes that never leave a
partial file under the final name, and never over one of the inputs) and
loading checkpoints without running code from them.

A Runner checkpoint holds tensors plus a few plain objects (numpy arrays and
scalars, mmengine's ``HistoryBuffer``). They are loaded with
``torch.load(weights_only=True)`` and this module's allowlist; anything else
in the pickle (a ``__reduce__`` that runs a command, say) is refused. The
``getattr`` that ``HistoryBuffer`` pickles its statistics methods with is
served by a stand-in that returns those methods only.
"""
import os
import os.path as osp
import pickle
import tempfile
from typing import Any, Callable, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


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


UNSAFE_LOAD_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
# HistoryBuffer's default statistics (``_set_default_statistics``).
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods."""
    if obj is HistoryBuffer and (name in HISTORY_BUFFER_METHODS or name
                                 in HistoryBuffer._statistics_methods):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) in a checkpoint: only '
        'HistoryBuffer statistics methods are allowed')


def safe_globals() -> List[Any]:
    """What a Runner checkpoint needs beyond tensors (numpy 1 and 2
    module paths)."""
    from numpy._core.multiarray import _reconstruct, scalar
    dtypes = [type(np.dtype(t)) for t in np.sctypeDict.values()
              if isinstance(t, type)]
    return [
        np.ndarray, np.dtype, _reconstruct, scalar, HistoryBuffer,
        (_reconstruct, 'numpy.core.multiarray._reconstruct'),
        (scalar, 'numpy.core.multiarray.scalar'),
        (history_buffer_getattr, '__builtin__.getattr'),
        (history_buffer_getattr, 'builtins.getattr'),
    ] + sorted(set(dtypes), key=str)


def allow_runner_checkpoints() -> None:
    """Let ``torch.load``'s default ``weights_only=True`` read Runner
    checkpoints in this process (resume, ``load_from``)."""
    torch.serialization.add_safe_globals(safe_globals())


def load_checkpoint(path: str, map_location='cpu') -> Any:
    """``torch.load(path, weights_only=True)`` with the allowlist.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Unreadable, truncated, or holding anything outside the
            allowlist (one line, naming the file).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    # Registered for the process (torch's safe_globals context manager
    # loses the named entries on exit): they are safe everywhere.
    allow_runner_checkpoints()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        # What the allowlist refused, else a plain description: torch's own
        # text for a truncated file is "[Errno 22] Invalid argument", and
        # for others it suggests weights_only=False, which runs code.
        reason = next((line.strip() for line in str(e).splitlines()
                       if 'Unsupported global' in line or 'refusing' in line),
                      None) or (
            f'not a complete PyTorch checkpoint (truncated, or another '
            f'format; {osp.getsize(path)} bytes)')
        raise ValueError(f'{path} cannot be loaded safely: {reason}') from e

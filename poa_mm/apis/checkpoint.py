"""Loading POA training checkpoints without running code from them.

A Runner checkpoint holds tensors plus a few plain objects (numpy arrays and
scalars, mmengine's ``HistoryBuffer``). They are loaded with
``torch.load(weights_only=True)`` and this module's allowlist; anything else
in the pickle (a ``__reduce__`` that runs a command, say) is refused. The
``getattr`` that ``HistoryBuffer`` pickles its statistics methods with is
served by a stand-in that returns those methods only.
"""
import os.path as osp
import pickle
from typing import Any, List

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

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


PLAIN_SCALARS = (str, int, float, bool, type(None))


def check_plain(obj: Any, where: str) -> None:
    """Raise ``ValueError`` unless ``obj`` is plain data: str / int / float
    / bool / None, lists and tuples of plain data, dicts whose keys are
    Python identifiers. What goes into a generated config must be this."""
    if isinstance(obj, PLAIN_SCALARS):
        return
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            check_plain(item, f'{where}[{i}]')
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not (isinstance(key, str) and key.isidentifier()):
                raise ValueError(f'{where} has a key that is not a plain '
                                 f'name: {key!r}')
            check_plain(value, f'{where}.{key}')
        return
    raise ValueError(f'{where} is not plain data: {type(obj).__name__}')

"""Where the evaluation tools run: the device and the autocast precision."""
import sys
from contextlib import nullcontext
from typing import Optional, Union

import torch

DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16,
          'float16': torch.float16}


def resolve_device(name: Optional[str] = None) -> torch.device:
    """``name`` ('cpu', 'cuda', 'cuda:1'), or CUDA when one is visible.

    A CUDA device that is not there is refused with one line, before any
    work is spent."""
    if name is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f'--device: unknown device {name!r} (cpu, cuda, '
                         'cuda:N)') from None
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'--device {name}: no CUDA device is visible')
        if device.index is not None and \
                device.index >= torch.cuda.device_count():
            raise ValueError(f'--device {name}: only '
                             f'{torch.cuda.device_count()} CUDA device(s)')
    elif device.type != 'cpu':
        raise ValueError(f'--device: unsupported device {name!r}')
    return device


def resolve_dtype(dtype: Union[None, str, torch.dtype],
                  device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype to use on ``device``: None for fp32. Half
    precision on the CPU is slow (no bf16 matrix units on most CPUs): it is
    dropped there with one warning."""
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f'unknown dtype {dtype!r}; choose from '
                             f'{sorted(DTYPES)}')
        dtype = DTYPES[dtype]
    if dtype in (None, torch.float32):
        return None
    if device.type == 'cpu':
        print(f'warning: {dtype} autocast is slow on the CPU; running fp32',
              file=sys.stderr)
        return None
    return dtype


def autocast_context(device: torch.device, dtype: Optional[torch.dtype]):
    """``torch.autocast`` in ``dtype`` on ``device``, or nothing for
    fp32."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU without any)."""
    for param in module.parameters():
        return param.device
    return torch.device('cpu')

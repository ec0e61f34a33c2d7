"""Helpers shared by the benchmarks: timing and JSON output."""
import argparse
import json
import os
import os.path as osp
import platform
import time
from contextlib import ExitStack, contextmanager
from typing import Callable
from unittest import mock

import torch


def run_parser(doc: str, name: str, iters: int,
               result: str = None) -> argparse.ArgumentParser:
    """The parser of a benchmark that runs the tools: ``--iters``,
    ``--work-dir`` (``work_dirs/<name>``) and ``--out``
    (``benchmarks/results/<result or name>.json``)."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--iters', type=int, default=iters)
    p.add_argument('--work-dir', default=f'work_dirs/{name}')
    p.add_argument('--out',
                   default=f'benchmarks/results/{result or name}.json')
    return p


def device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'{platform.processor() or platform.machine()} CPU, ' \
           f'{torch.get_num_threads()} threads'


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_it(fn: Callable[[], None], device: torch.device, warmup: int,
            reps: int) -> float:
    """Median seconds per call of ``fn``."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def stock_tool(package: str, name: str) -> str:
    """``tools/<name>`` inside an installed OpenMMLab package (its own
    ``train.py`` / ``test.py``)."""
    import importlib
    return osp.join(osp.dirname(importlib.import_module(package).__file__),
                    '.mim', 'tools', name)


def write_json(path: str, payload: dict) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(payload, f, indent=1)
    print(f'wrote {path}')


@contextmanager
def full_size_views():
    """The elastic families as before 0.3: every slice, full-size ones
    included, is a view (a ``SliceBackward`` per use), to measure what the
    slicing's full-size shortcut saves. Patches the families' imported
    slicing functions for the duration; the model code has no switch."""
    from poa_mm.elastic import resnet, slicing, swin, vit
    from poa_mm.models.heads import multi_projection_head

    def viewing(fn):
        def sliced(*args, **kwargs):
            return fn(*(a[:] if isinstance(a, torch.Tensor) else a
                        for a in args), **kwargs)
        return sliced

    names = ('slice_linear', 'slice_grouped_rows', 'slice_channels',
             'slice_grouped_bias')
    with ExitStack() as stack:
        for module in (vit, swin, resnet, multi_projection_head):
            for name in names:
                if hasattr(module, name):
                    stack.enter_context(mock.patch.object(
                        module, name, viewing(getattr(slicing, name))))
        yield

"""Helpers shared by the benchmarks: timing and JSON output."""
import json
import os
import os.path as osp
import platform
import time
from typing import Callable

import torch


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

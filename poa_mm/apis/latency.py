"""Latency of a family on this machine: a few sub-networks measured with
``torch.utils.benchmark``, the rest predicted by a fit on FLOPs."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmpretrain.registry import MODELS
from torch.utils import benchmark

from .flops import as_hw
from .family import build_meta_backbone

SPREAD_LIMIT = 0.2


def measure_latency(model: torch.nn.Module, input_size, batch: int = 1,
                    device: str = 'cpu', dtype: torch.dtype = torch.float32,
                    repeats: int = 3, min_run_time: float = 0.2) -> dict:
    """Median milliseconds of one forward over ``repeats`` blocked
    autoranges; ``spread`` = (max - min) / median of the repeats, flagged
    over 20 % (shared machines stall)."""
    if repeats < 3:
        raise ValueError(f'repeats must be at least 3, got {repeats}')
    h, w = as_hw(input_size)
    model = model.to(device=device, dtype=dtype)
    model.eval()
    x = torch.randn(batch, 3, h, w, device=device, dtype=dtype)
    timer = benchmark.Timer(stmt='model(x)', globals=dict(model=model, x=x),
                            num_threads=torch.get_num_threads())
    with torch.no_grad():
        model(x)  # warm-up
        runs = [timer.blocked_autorange(min_run_time=min_run_time).median
                for _ in range(repeats)]
    median = float(np.median(runs)) * 1e3
    spread = (max(runs) - min(runs)) * 1e3 / median
    return dict(latency_ms=median, spread=spread,
                unstable=spread > SPREAD_LIMIT)


def fit_latency(flops: Sequence[float],
                latency: Sequence[float]) -> np.ndarray:
    """``latency = a + b * flops`` by least squares: ``[a, b]``."""
    design = np.stack([np.ones(len(flops)), np.asarray(flops, float)], 1)
    coef, *_ = np.linalg.lstsq(design, np.asarray(latency, float),
                               rcond=None)
    return coef


def _spread_by_cost(rows: Sequence[dict], n: int) -> List[dict]:
    ordered = sorted(rows, key=lambda r: r['gflops'])
    idx = np.unique(np.linspace(0, len(ordered) - 1, n).round().astype(int))
    return [ordered[i] for i in idx]


def holdout_fit_error(gflops: Sequence[float],
                      ms: Sequence[float]) -> Optional[float]:
    """Mean relative error of the latency fit on every other measured
    sub-network (ordered by cost; the cheapest and dearest always fitted)
    when fitted on the rest; None with nothing to hold out."""
    fit = sorted({0, len(gflops) - 1} | set(range(0, len(gflops), 2)))
    held = [i for i in range(len(gflops)) if i not in fit]
    if not held:
        return None
    coef = fit_latency([gflops[i] for i in fit], [ms[i] for i in fit])
    x, y = np.asarray(gflops)[held], np.asarray(ms)[held]
    return float(np.mean(np.abs(coef[0] + coef[1] * x - y) / y))


def family_latency(backbone_cfg: dict, rows: Sequence[dict],
                   input_size=None,
                   n_measured: int = 6, batch: int = 1, device: str = 'cpu',
                   dtype: torch.dtype = torch.float32, repeats: int = 3,
                   min_run_time: float = 0.2, progress=print) -> dict:
    """Measure ``n_measured`` sub-networks of ``rows`` (from
    :func:`subnet_family`, at the same ``input_size``; default the
    backbone's) spread over the FLOPs range, fit latency on FLOPs, and
    predict every row.

    The fit is checked on the measured sub-networks it was not fitted on
    (every other one, the cheapest and dearest always fitted); the
    predictions use the fit on all measured ones.

    Returns:
        dict: ``rows`` (copies with ``latency_ms`` and
        ``latency_predicted``), ``holdout_error`` (mean relative error of
        the held-out fit), ``coef``, ``threads``, ``device``, ``dtype``,
        ``batch``, ``unstable`` (specs whose spread is over 20 %).
    """
    if n_measured < 3:
        raise ValueError(f'measure at least 3 sub-networks, got '
                         f'{n_measured}')
    with torch.device('meta'):
        meta = build_meta_backbone(backbone_cfg)
    input_size = input_size or getattr(meta, 'img_size', 224)
    chosen = _spread_by_cost(rows, n_measured)
    measured: Dict[str, dict] = {}
    for i, row in enumerate(chosen):
        cfg, _ = meta.export_subnet(row['subnet'])
        result = measure_latency(MODELS.build(cfg), input_size, batch,
                                 device, dtype, repeats, min_run_time)
        measured[row['subnet']] = result
        if progress:
            flag = ' (unstable)' if result['unstable'] else ''
            progress(f'[latency {i + 1}/{len(chosen)}] {row["subnet"]}: '
                     f'{result["latency_ms"]:.2f} ms{flag}')
    gflops = [row['gflops'] for row in chosen]
    ms = [measured[row['subnet']]['latency_ms'] for row in chosen]
    holdout_error = holdout_fit_error(gflops, ms)
    coef = fit_latency(gflops, ms)
    out_rows = []
    for row in rows:
        row = dict(row)
        if row['subnet'] in measured:
            row.update(latency_ms=measured[row['subnet']]['latency_ms'],
                       latency_predicted=False)
        else:
            row.update(latency_ms=float(coef[0] + coef[1] * row['gflops']),
                       latency_predicted=True)
        out_rows.append(row)
    return dict(rows=out_rows, holdout_error=holdout_error,
                coef=[float(c) for c in coef],
                threads=torch.get_num_threads(), device=device,
                dtype=str(dtype).replace('torch.', ''), batch=batch,
                measured=measured,
                unstable=[k for k, v in measured.items() if v['unstable']])


__all__: Optional[List[str]] = [
    'measure_latency', 'fit_latency', 'family_latency'
]

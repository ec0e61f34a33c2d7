"""Choose the best sub-network of a family under a parameter/FLOP budget."""
from typing import Dict, List, Optional, Sequence

import numpy as np


def parse_count(text: str) -> float:
    """``'25e6'``, ``'25M'``, ``'4.5G'``, ``'800k'`` as a number."""
    units = dict(k=1e3, m=1e6, g=1e9, t=1e12)
    text = str(text).strip()
    scale = units.get(text[-1:].lower())
    try:
        value = float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        raise ValueError(f'not a count: {text!r} (examples: 25e6, 25M, '
                         '4.5G)') from None
    if value <= 0:
        raise ValueError(f'a budget must be positive, got {text!r}')
    return value


def _features(rows: Sequence[dict], degree: int) -> np.ndarray:
    w = np.array([r['width'] for r in rows], float)
    d = np.array([sum(map(int, str(r['depths']).split('-'))) for r in rows],
                 float)
    cols = [np.ones_like(w), w, d]
    if degree == 2:
        cols += [w * w, d * d, w * d]
    return np.stack(cols, axis=1)


def predict_accuracy(rows: Sequence[dict],
                     measured: Dict[str, float]) -> Dict[str, float]:
    """A quadratic in (width, total depth) fitted on the measured rows (a
    plane with fewer than 6, nothing with fewer than 3), for the rest."""
    known = [r for r in rows if r['subnet'] in measured]
    unknown = [r for r in rows if r['subnet'] not in measured]
    if len(known) < 3 or not unknown:
        return {}
    degree = 2 if len(known) >= 6 else 1
    coef, *_ = np.linalg.lstsq(_features(known, degree),
                               np.array([measured[r['subnet']]
                                         for r in known]), rcond=None)
    pred = _features(unknown, degree) @ coef
    return {r['subnet']: float(p) for r, p in zip(unknown, pred)}


def measured_accuracy(rows: Sequence[dict], accuracy: Sequence[dict],
                      metric: str) -> dict:
    """{sub-network: ``metric``} of the accuracy rows (baselines such as
    the raw-pixel row skipped); ``ValueError`` for a missing column or a
    sub-network that is not in ``rows``."""
    measured = {}
    for r in accuracy:
        if r.get('baseline'):
            continue
        if metric not in r:
            raise ValueError(f'the accuracy JSON has no {metric!r} column')
        measured[str(r['subnet'])] = float(r[metric])
    foreign = sorted(set(measured) - {r['subnet'] for r in rows})
    if foreign:
        raise ValueError(f'the accuracy JSON lists sub-networks that are not '
                         f'in this supernet: {", ".join(foreign[:5])}')
    return measured


def pick_subnet(rows: Sequence[dict],
                max_params: Optional[float] = None,
                max_flops: Optional[float] = None,
                accuracy: Optional[Sequence[dict]] = None,
                metric: str = 'k20',
                max_latency_ms: Optional[float] = None) -> dict:
    """The best sub-network of ``rows`` (from :func:`subnet_family`) whose
    exported backbone has at most ``max_params`` parameters,
    ``max_flops`` FLOPs and ``max_latency_ms`` latency (rows with
    ``latency_ms``, from :func:`family_latency`).

    Best is the highest ``metric`` of ``accuracy`` (rows of a k-NN or
    linear-probe JSON) where it was measured, a fitted prediction where it
    was not, and the most expensive one when nothing was measured.

    Returns:
        dict: ``choice`` and ``runner_up`` rows (with ``accuracy`` and
        ``predicted`` set when scored), and ``ranked_by``.
    """
    if max_params is None and max_flops is None and max_latency_ms is None:
        raise ValueError('give a budget: max_params, max_flops and/or '
                         'max_latency_ms')
    measured = measured_accuracy(rows, accuracy or [], metric)

    def fits(r):
        return ((max_params is None or r['params_m'] * 1e6 <= max_params)
                and (max_flops is None or r['gflops'] * 1e9 <= max_flops)
                and (max_latency_ms is None
                     or r['latency_ms'] <= max_latency_ms))

    def cost(r):
        return (r['gflops'], r['params_m'])

    under = [dict(r) for r in rows if fits(r)]
    if not under:
        cheapest = min(rows, key=cost)
        raise ValueError(
            f'no sub-network fits the budget; the cheapest is '
            f'{cheapest["subnet"]} with {cheapest["params_m"]:.2f} M params '
            f'and {cheapest["gflops"]:.3f} GFLOPs' +
            (f' ({cheapest["latency_ms"]:.2f} ms)'
             if 'latency_ms' in cheapest else ''))
    predicted = predict_accuracy(rows, measured) if measured else {}
    for r in under:
        if r['subnet'] in measured:
            r.update(accuracy=measured[r['subnet']], predicted=False)
        elif r['subnet'] in predicted:
            r.update(accuracy=predicted[r['subnet']], predicted=True)
    scored = [r for r in under if 'accuracy' in r]
    if scored:
        ranked = sorted(scored, key=lambda r: (r['accuracy'], cost(r)),
                        reverse=True)
        ranked_by = metric
    else:
        ranked = sorted(under, key=cost, reverse=True)
        ranked_by = 'cost'
    return dict(choice=ranked[0],
                runner_up=ranked[1] if len(ranked) > 1 else None,
                ranked_by=ranked_by)


__all__: List[str] = ['parse_count', 'pick_subnet', 'predict_accuracy']

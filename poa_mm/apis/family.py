"""The family of a supernet: every sub-network with its size (and k-NN)."""
from typing import Dict, List, Optional, Sequence

import torch
from mmpretrain.registry import MODELS

from poa_mm.elastic.base import count_params


def subnet_family(backbone_cfg: dict,
                  knn_rows: Optional[Sequence[dict]] = None,
                  input_size=None) -> List[dict]:
    """One row per sub-network, smallest first: spec, width, depths,
    parameters and FLOPs (multiply-adds, one image of ``input_size``,
    default the backbone's) of the exported standard backbone; k-NN columns
    of ``knn_rows`` (from tools/knn_eval.py) where the spec matches.

    The backbone is built on the meta device: shapes only, no memory; the
    FLOPs are the family's closed form (``backbone.flops``).
    """
    import poa_mm  # noqa: F401
    with torch.device('meta'):
        backbone = MODELS.build(backbone_cfg)
    knn: Dict[str, dict] = {r['subnet']: r for r in knn_rows or []}
    rows = []
    for spec in backbone.search_space.candidates():
        _, state = backbone.export_subnet(spec)
        row = dict(subnet=str(spec), width=spec.width,
                   depths='-'.join(map(str, spec.depths)),
                   params_m=count_params(state) / 1e6,
                   gflops=backbone.flops(spec, input_size) / 1e9)
        row.update({
            k: v
            for k, v in knn.get(str(spec), {}).items()
            if k.startswith('k') or k.startswith('random_k')
        })
        rows.append(row)
    return rows


def pareto_front(rows: Sequence[dict], metric: str,
                 cost: str = 'params_m') -> List[dict]:
    """Rows not beaten on ``metric`` by a cheaper (or equal) one, cost
    being ``params_m``, ``gflops`` or ``latency_ms``."""
    front, best = [], float('-inf')
    for row in sorted((r for r in rows if metric in r and cost in r),
                      key=lambda r: (r[cost], -r[metric])):
        if row[metric] > best:
            front.append(row)
            best = row[metric]
    return front

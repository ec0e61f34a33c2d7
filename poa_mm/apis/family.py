"""The family of a supernet: every sub-network with its size (and k-NN)."""
from typing import Dict, List, Optional, Sequence

import torch
from mmpretrain.registry import MODELS

from poa_mm.elastic.base import ElasticBackboneMixin, count_params


def build_meta_backbone(backbone_cfg: dict):
    """The elastic backbone of ``backbone_cfg`` built in MMPretrain's scope
    (whatever scope the caller runs in; call under ``torch.device('meta')``
    for shapes only)."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(backbone_cfg)
    if not isinstance(backbone, ElasticBackboneMixin):
        raise ValueError(
            f'the backbone {backbone_cfg.get("type")} is not an elastic '
            'supernet: give a POA config (ElasticViT, ElasticSwin or '
            'ElasticResNet backbone)')
    return backbone


def subnet_family(backbone_cfg: dict,
                  knn_rows: Optional[Sequence[dict]] = None,
                  input_size=None) -> List[dict]:
    """One row per sub-network, smallest first: spec, width, depths,
    parameters and FLOPs (multiply-adds, one image of ``input_size``,
    default the backbone's) of the exported standard backbone; k-NN columns
    of ``knn_rows`` (from tools/knn_eval.py) where the spec matches.

    The backbone is built on the meta device: shapes only, no memory; the
    FLOPs are the family's closed form (``backbone.flops``). ``knn_rows``
    of another supernet (a spec it does not hold, or other parameter
    counts) are refused with ``ValueError``.
    """
    with torch.device('meta'):
        backbone = build_meta_backbone(backbone_cfg)
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
    check_knn_rows(rows, knn_rows or [])
    return rows


def check_knn_rows(rows: Sequence[dict], knn_rows: Sequence[dict]) -> None:
    """``ValueError`` when the k-NN rows (tools/knn_eval.py's knn.json) are
    not of this family: a sub-network it does not hold, or a parameter
    count more than 1 % off."""
    ours = {r['subnet']: r for r in rows}
    for r in knn_rows:
        if not isinstance(r, dict) or 'subnet' not in r:
            raise ValueError('the k-NN JSON must be a list of rows with a '
                             '"subnet" key (tools/knn_eval.py writes it)')
        if r.get('baseline'):  # e.g. the raw-pixel row
            continue
        spec = str(r['subnet'])
        if spec not in ours:
            raise ValueError(f'the k-NN JSON lists {spec}, which is not a '
                             'sub-network of this supernet: is it of '
                             'another config?')
        params = r.get('params_m')
        if isinstance(params, (int, float)) and abs(
                params - ours[spec]['params_m']) > 0.01 * ours[spec][
                    'params_m']:
            raise ValueError(
                f'the k-NN JSON gives {spec} {params:.3f} M parameters, this '
                f'supernet {ours[spec]["params_m"]:.3f} M: is it of another '
                'config?')


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


COST_AXES = dict(params=('params_m', 'parameters (M)'),
                 flops=('gflops', 'GFLOPs (multiply-adds)'),
                 latency=('latency_ms', 'latency (ms)'))


def preset_names(backbone_cfg: dict) -> Dict[str, str]:
    """``{spec string: preset name}`` of the supernet ('min' and 'max'
    only where no other name covers the spec)."""
    with torch.device('meta'):
        space = build_meta_backbone(backbone_cfg).search_space
    names = {str(spec): name for name, spec in space.presets.items()
             if name not in ('min', 'max')}
    for name in ('min', 'max'):
        names.setdefault(str(space.presets[name]), name)
    return names


def plot_pareto(rows: Sequence[dict], metric: str, axis: str,
                presets: Dict[str, str], path: str) -> None:
    """A PNG of ``metric`` against the cost ``axis`` ('params', 'flops' or
    'latency') of the evaluated rows, the Pareto front in red, presets
    labelled in bold."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cost, label = COST_AXES[axis]
    evaluated = [r for r in rows if metric in r]
    front = pareto_front(evaluated, metric, cost)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r[cost] for r in evaluated], [r[metric] for r in evaluated],
               label='sub-network')
    ax.plot([r[cost] for r in front], [r[metric] for r in front], 'r-o',
            label='Pareto front')
    for r in evaluated:
        name = presets.get(r['subnet'])
        text = f'{name} ({r["subnet"]})' if name else r['subnet']
        ax.annotate(text, (r[cost], r[metric]), fontsize=7,
                    weight='bold' if name else 'normal')
    ax.set_xlabel(label)
    ax.set_ylabel(f'k-NN top-1 (%), {metric}')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

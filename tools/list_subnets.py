"""List every sub-network of a POA config's supernet with the parameters and
FLOPs (multiply-adds of one image, attention included) of its exported
standard backbone (and, given tools/knn_eval.py's knn.json, its k-NN
accuracy and a Pareto plot):

    python tools/list_subnets.py CONFIG [--input-size 224 [320]] \
        [--knn work_dirs/x/knn/knn.json] [--out-dir work_dirs/x/family] \
        [--latency [--measure 6] [--batch 1] [--device cuda \
        --dtype bfloat16]] [--x params|flops|latency]

--latency times a few sub-networks here (torch.utils.benchmark, median of
3 repeats; spreads over 20 % are flagged), fits latency = a + b x FLOPs,
reports its error on measured sub-networks it was not fitted on and
predicts the rest (marked). Writes family.csv, family.json (latency.json
with --latency) and, with --knn, pareto.png (accuracy against --x, the
front in red, presets labelled).
"""
import argparse
import json
import os.path as osp

import torch

from poa_mm.apis.eval_common import format_table, write_rows
from poa_mm.apis.family import (
    build_meta_backbone,
    plot_pareto,
    preset_names,
    subnet_family,
)
from poa_mm.apis.latency import family_latency
from poa_mm.apis.training import read_config
from poa_mm.cli.errors import one_line_errors
from poa_mm.evaluation.device import resolve_device


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('config')
    p.add_argument('--knn', help='knn.json written by tools/knn_eval.py')
    p.add_argument('--metric', default='k20', help='k-NN column to plot')
    p.add_argument('--latency', action='store_true')
    p.add_argument('--measure', type=int, default=6,
                   help='sub-networks to time with --latency')
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--device', default=None,
                   help='where --latency runs: cpu, cuda or cuda:N '
                   '(default: cuda when visible)')
    p.add_argument('--dtype', default='float32',
                   choices=['float32', 'bfloat16', 'float16'])
    p.add_argument('--x', default='params',
                   choices=['params', 'flops', 'latency'],
                   help='cost axis of the Pareto plot')
    p.add_argument('--input-size', type=int, nargs='+', metavar='H [W]',
                   help='image size for the FLOPs (default: the '
                   "backbone's img_size, 224 for ResNet)")
    p.add_argument('--out-dir', default='.')
    args = p.parse_args(argv)
    if args.input_size and (len(args.input_size) > 2
                            or min(args.input_size) < 1):
        p.error('--input-size takes one or two positive integers: H [W]')
    if args.measure < 3 or args.batch < 1:
        p.error('--measure must be at least 3 and --batch at least 1')
    if args.x == 'latency' and not args.latency:
        p.error('--x latency needs --latency')
    return p, args


def read_knn(p, path):
    """The rows of a knn.json, or a parser error."""
    try:
        with open(path) as f:
            knn = json.load(f)
    except (OSError, ValueError) as e:
        p.error(f'--knn {path}: {e}')
    if not isinstance(knn, list):
        p.error(f'--knn {path}: not a list of rows (knn.json of '
                'tools/knn_eval.py)')
    return knn


def report_latency(timing: dict, out_dir: str) -> None:
    with open(osp.join(out_dir, 'latency.json'), 'w') as f:
        json.dump(timing, f, indent=1)
    error = timing['holdout_error']
    print(f'latency: {timing["threads"]} threads, {timing["device"]} '
          f'{timing["dtype"]}, batch {timing["batch"]}; fit error on '
          'held-out measured sub-networks: ' +
          ('n/a' if error is None else f'{100 * error:.1f} %') +
          (f'; unstable (spread > 20 %): {", ".join(timing["unstable"])}'
           if timing['unstable'] else ''))


@one_line_errors
def main(argv=None):
    p, args = parse_args(argv)
    cfg = read_config(args.config)
    knn = read_knn(p, args.knn) if args.knn else None
    size = args.input_size and (args.input_size * 2)[:2]
    backbone_cfg = cfg.model.backbone.to_dict()
    with torch.device('meta'):  # an elastic supernet, or one line
        build_meta_backbone(backbone_cfg)
    try:
        rows = subnet_family(backbone_cfg, knn, size)
    except ValueError as e:
        p.error(f'--knn {args.knn}: {e}')
    if args.latency:
        try:
            device = resolve_device(args.device)
        except ValueError as e:
            p.error(str(e))
        timing = family_latency(backbone_cfg, rows, size, args.measure,
                                args.batch, str(device),
                                getattr(torch, args.dtype))
        rows = timing.pop('rows')
    cols = list(dict.fromkeys(k for r in rows for k in r))
    print(format_table(rows, cols, float_format='.4g'))
    write_rows(rows, args.out_dir, 'family')
    if args.latency:
        report_latency(timing, args.out_dir)
    if any(args.metric in r for r in rows):
        path = osp.join(args.out_dir, 'pareto.png')
        plot_pareto(rows, args.metric, args.x, preset_names(backbone_cfg),
                    path)
        print(f'wrote {path}')


if __name__ == '__main__':
    main()

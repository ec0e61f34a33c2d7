"""List every sub-network of a POA config's supernet with the parameters and
FLOPs (multiply-adds of one image, attention included) of its exported
standard backbone (and, given tools/knn_eval.py's knn.json, its k-NN
accuracy and a Pareto plot):

    python tools/list_subnets.py CONFIG [--input-size 224 [320]] \
        [--knn work_dirs/x/knn/knn.json] [--out-dir work_dirs/x/family]

Writes family.csv, family.json and, with --knn, pareto.png.
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('config')
    p.add_argument('--knn', help='knn.json written by tools/knn_eval.py')
    p.add_argument('--metric', default='k20', help='k-NN column to plot')
    p.add_argument('--input-size', type=int, nargs='+', metavar='H [W]',
                   help='image size for the FLOPs (default: the '
                   "backbone's img_size, 224 for ResNet)")
    p.add_argument('--out-dir', default='.')
    args = p.parse_args(argv)
    if args.input_size and (len(args.input_size) > 2
                            or min(args.input_size) < 1):
        p.error('--input-size takes one or two positive integers: H [W]')
    from mmengine.config import Config

    from poa_mm.apis.family import pareto_front, subnet_family
    cfg = Config.fromfile(args.config)
    knn = None
    if args.knn:
        with open(args.knn) as f:
            knn = json.load(f)
    size = args.input_size and (args.input_size * 2)[:2]
    rows = subnet_family(cfg.model.backbone.to_dict(), knn, size)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    print(' | '.join(f'{c:>10}' for c in cols))
    for r in rows:
        print(' | '.join(f'{r[c]:>10.2f}' if isinstance(r.get(c), float)
                         else f'{str(r.get(c, "")):>10}' for c in cols))
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'family.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    with open(osp.join(args.out_dir, 'family.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=cols)
        writer.writeheader()
        writer.writerows(rows)
    evaluated = [r for r in rows if args.metric in r]
    if evaluated:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        front = pareto_front(evaluated, args.metric)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter([r['params_m'] for r in evaluated],
                   [r[args.metric] for r in evaluated], label='sub-network')
        ax.plot([r['params_m'] for r in front],
                [r[args.metric] for r in front], 'r-', label='Pareto front')
        for r in evaluated:
            ax.annotate(r['subnet'], (r['params_m'], r[args.metric]),
                        fontsize=7)
        ax.set_xlabel('parameters (M)')
        ax.set_ylabel(f'k-NN top-1 (%), {args.metric}')
        ax.legend()
        fig.tight_layout()
        fig.savefig(osp.join(args.out_dir, 'pareto.png'), dpi=120)
    print(f'wrote {args.out_dir}/family.csv and family.json' +
          (' and pareto.png' if evaluated else ''))


if __name__ == '__main__':
    main()

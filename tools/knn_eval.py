"""k-NN evaluation of many sub-networks of a POA checkpoint.

    python tools/knn_eval.py CONFIG CKPT --subnets all
    python tools/knn_eval.py CONFIG CKPT --subnets min 128x5 max \
        --train-dir data/x/train --val-dir data/x/val --out-dir results/

Prints a table (smallest sub-network first) and writes knn.csv / knn.json.
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner.utils import set_random_seed

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint', help='a POA training checkpoint')
    p.add_argument('--subnets', nargs='+', default=['all'],
                   help='"all", preset names or specs such as 128x5')
    p.add_argument('--train-dir', help="defaults to the config's knn_cfg")
    p.add_argument('--val-dir', help="defaults to the config's knn_cfg")
    p.add_argument('--ks', nargs='+', type=int, default=[10, 20, 100, 200])
    p.add_argument('--temperature', type=float, default=0.07)
    p.add_argument('--batch-size', type=int, default=None)
    p.add_argument('--num-workers', type=int, default=0)
    p.add_argument('--compare-random-init', action='store_true',
                   help='also evaluate the same sub-networks with the '
                   "config's random initial weights")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out-dir', default=None,
                   help='where knn.csv and knn.json go (default: next to '
                   'the checkpoint)')
    args = p.parse_args(argv)
    if min(args.ks) < 1:
        p.error(f'--ks must be positive integers, got {args.ks}')
    if not args.temperature > 0:
        p.error(f'--temperature must be positive, got {args.temperature}')
    return args


def build_model(cfg, checkpoint=None):
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    model.init_weights()
    if checkpoint is not None:
        from poa_mm.apis.extract import load_poa_checkpoint
        _, state = load_poa_checkpoint(checkpoint)
        model.load_state_dict(state, strict=True)
    return model.eval()


def format_table(rows, ks) -> str:
    cols = ['subnet', 'params_m'] + [f'k{k}' for k in ks]
    if rows and 'random_k20' in rows[0]:
        cols += ['random_k20']
    lines = [' | '.join(f'{c:>10}' for c in cols)]
    for r in rows:
        lines.append(' | '.join(
            f'{r[c]:>10.2f}' if isinstance(r[c], float) else f'{r[c]:>10}'
            for c in cols))
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    import poa_mm  # noqa: F401
    from poa_mm.apis import build_folder_loader, evaluate_subnets
    from poa_mm.apis.knn import folder_classes

    knn_cfg = cfg.get('knn_cfg', {})
    train_dir = args.train_dir or knn_cfg.get('train_dir')
    val_dir = args.val_dir or knn_cfg.get('val_dir')
    for name, folder in (('--train-dir', train_dir), ('--val-dir', val_dir)):
        if not folder or not osp.isdir(folder):
            raise FileNotFoundError(f'{name}: image folder {folder!r} not '
                                    'found')
    pipeline = knn_cfg.get('pipeline', [
        dict(type='LoadImageFromFile'),
        dict(type='PackInputs')
    ])
    batch_size = args.batch_size or knn_cfg.get('batch_size', 256)

    # Quiet: the per-parameter init report of mmengine is not wanted here.
    MMLogger.get_instance('knn_eval', log_level='WARNING')
    set_random_seed(args.seed)
    model = build_model(cfg, args.checkpoint)
    specs = model.backbone.search_space.select(args.subnets)
    baseline = None
    if args.compare_random_init:
        set_random_seed(args.seed)
        baseline = build_model(cfg)
    train_loader = build_folder_loader(train_dir, pipeline, batch_size,
                                       args.num_workers)
    classes = folder_classes(train_loader)
    if len(classes) < 2:
        print(f'warning: {train_dir} has {len(classes)} class; k-NN '
              'accuracy is meaningless', file=sys.stderr)
    loaders = [
        train_loader,
        build_folder_loader(val_dir, pipeline, batch_size, args.num_workers,
                            classes)
    ]
    rows = evaluate_subnets(model, specs, *loaders, ks=args.ks,
                            temperature=args.temperature, baseline=baseline)
    print(format_table(rows, args.ks))

    out_dir = args.out_dir or osp.dirname(osp.abspath(args.checkpoint))
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'knn.json'), 'w') as f:
        json.dump(rows, f, indent=1)
    with open(osp.join(out_dir, 'knn.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f'wrote {out_dir}/knn.csv and knn.json')
    return rows


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')

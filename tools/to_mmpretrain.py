"""Write an MMPretrain 1.x classification config.

One size, fine-tuned with the stock tools (a sub-network from
tools/extract_subnet.py; an extracted classifier keeps its head):

    python tools/to_mmpretrain.py subnets/vit_128x5.pth \
        --data-root data/fashion_mnist --out cls.py
    python $(python -c "import mmpretrain, os; print(os.path.dirname(
        mmpretrain.__file__))")/.mim/tools/train.py cls.py

Every size in one run (ElasticImageClassifier, the sandwich rule with
in-place distillation) from a POA training checkpoint:

    python tools/to_mmpretrain.py work_dirs/demo/iter_500.pth --elastic \
        --data-root data/fashion_mnist --out family.py
    python tools/train.py family.py    # or tools/dist_train.sh family.py 8

Data in ImageNet layout: DATA_ROOT/train/<class>/<image> and
DATA_ROOT/val/<class>/... (else test/); a classes.txt in DATA_ROOT (or
--classes-file) fixes the class order.
"""
import argparse

from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.apis.extract import BRANCHES
    from poa_mm.cli.downstream_args import add_common_args, check_positive
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    add_common_args(p)
    p.set_defaults(batch_size=64)
    p.add_argument('--elastic', action='store_true',
                   help='SUBNET_CHECKPOINT is a POA training checkpoint: '
                   'fine-tune every size in one run')
    p.add_argument('--from', dest='branch', default='teacher',
                   choices=BRANCHES,
                   help='--elastic: the supernet to start from')
    p.add_argument('--subnets', nargs='+', default=None,
                   help='--elastic: sizes the sampled branches come from '
                   '(specs, presets; default: the whole search space)')
    p.add_argument('--val-subnets', nargs='+', default=None,
                   help='--elastic: sizes validated at every interval '
                   '(default: presets, smallest, intact)')
    p.add_argument('--num-random', type=int, default=2)
    p.add_argument('--temperature', type=float, default=1.0)
    p.add_argument('--label-weight', type=float, default=0.0,
                   help='share of the label loss in the sampled branches')
    p.add_argument('--save-best', default='mean/accuracy/top1',
                   help="--elastic: 'mean/accuracy/top1' or a size, e.g. "
                   "'128x5' or 'min'")
    p.add_argument('--random-init', action='store_true',
                   help='a baseline: the backbone keeps its random init')
    p.add_argument('--max-epochs', type=int, default=100)
    p.add_argument('--max-iters', type=int, default=None,
                   help='instead of --max-epochs')
    p.add_argument('--img-size', type=int, default=None,
                   help="default: the network's")
    p.add_argument('--classes-file', default=None)
    p.add_argument('--train-split', default='train')
    p.add_argument('--val-split', default=None)
    p.add_argument('--mean', type=float, nargs=3, default=None)
    p.add_argument('--std', type=float, nargs=3, default=None)
    args = p.parse_args(argv)
    check_positive(p, args, ['--batch-size', '--lr', '--max-epochs',
                             '--max-iters', '--img-size', '--temperature'])
    if args.num_random < 0:
        p.error(f'--num-random must be >= 0, got {args.num_random}')
    if not 0 <= args.label_weight <= 1:
        p.error(f'--label-weight must be in [0, 1], got {args.label_weight}')
    if args.random_init and args.elastic:
        p.error('--random-init is for one size, not --elastic')
    return args


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from poa_mm.apis.downstream import (
        ClsSettings,
        elastic_finetune_config,
        mmpretrain_config,
    )
    from poa_mm.cli.downstream_args import generate_config
    settings = ClsSettings(
        args.data_root, max_epochs=args.max_epochs, max_iters=args.max_iters,
        batch_size=args.batch_size, lr=args.lr, layer_decay=args.layer_decay,
        img_size=args.img_size, classes_file=args.classes_file,
        train_split=args.train_split, val_split=args.val_split,
        mean=args.mean, std=args.std)
    if args.elastic:
        def build():
            return elastic_finetune_config(
                args.subnet_checkpoint, settings, branch=args.branch,
                subnets=args.subnets, val_subnets=args.val_subnets,
                num_random=args.num_random, temperature=args.temperature,
                label_weight=args.label_weight, save_best=args.save_best)
    else:
        def build():
            return mmpretrain_config(args.subnet_checkpoint, settings,
                                     random_init=args.random_init)
    generate_config(build, args.out, args.overwrite,
                    [args.subnet_checkpoint, args.classes_file])


if __name__ == '__main__':
    main()

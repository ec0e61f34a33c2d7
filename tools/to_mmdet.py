"""Write an MMDetection 3.x config that fine-tunes an extracted sub-network:

    python tools/to_mmdet.py subnets/vit_128x5.pth --template mask-rcnn \
        --data-root data/coco_like --out configs_generated/det.py
    python tools/train.py configs_generated/det.py

COCO-format data: DATA_ROOT/annotations/instances_{train,val}.json and
DATA_ROOT/images/. Training refuses to start unless the backbone holds
exactly the extracted weights.
"""
import argparse

from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.apis.downstream.mmdet import DET_TEMPLATES
    from poa_mm.cli.downstream_args import add_common_args, check_positive
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    add_common_args(p)
    p.add_argument('--template', required=True,
                   choices=list(DET_TEMPLATES))
    p.add_argument('--img-scale', type=int, nargs='+', default=[1333, 800],
                   metavar=('LONG', 'SHORT'),
                   help='resize bound, long and short side (one number: '
                   'both); default COCO\'s 1333 800')
    p.add_argument('--max-iters', type=int, default=None,
                   help='an iteration-based run instead of the 3x schedule')
    args = p.parse_args(argv)
    if len(args.img_scale) > 2:
        p.error(f'--img-scale takes LONG SHORT or one number, got '
                f'{args.img_scale}')
    args.img_scale = args.img_scale * (3 - len(args.img_scale))
    check_positive(p, args,
                   ['--batch-size', '--lr', '--max-iters', '--img-scale'])
    return args


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from poa_mm.apis.downstream import mmdet_config
    from poa_mm.cli.downstream_args import generate_config
    generate_config(
        lambda: mmdet_config(
            args.subnet_checkpoint, args.template, args.data_root,
            max_iters=args.max_iters, img_scale=args.img_scale,
            batch_size=args.batch_size, lr=args.lr,
            layer_decay=args.layer_decay), args.out, args.overwrite,
        [args.subnet_checkpoint])


if __name__ == '__main__':
    main()

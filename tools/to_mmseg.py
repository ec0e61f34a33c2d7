"""Write an MMSegmentation 1.x config that fine-tunes an extracted
sub-network (UPerNet with an auxiliary FCN head, or a linear head on the
frozen backbone):

    python tools/to_mmseg.py subnets/vit_128x5.pth --template upernet \
        --data-root data/ade/ADEChallengeData2016 --out seg.py
    python tools/train.py seg.py

ADE20K layout (images/ and annotations/, each with training/ and
validation/); a classes.txt in DATA_ROOT (or --classes-file) switches to a
generic folder dataset with those classes (label = line index).
"""
import argparse

from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.apis.downstream.mmseg import SEG_TEMPLATES
    from poa_mm.cli.downstream_args import add_common_args, check_positive
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    add_common_args(p)
    p.add_argument('--template', required=True, choices=SEG_TEMPLATES)
    p.add_argument('--classes-file', default=None)
    p.add_argument('--crop-size', type=int, nargs='+', default=[512],
                   metavar=('H', 'W'),
                   help='training crop, H W (one number: square)')
    p.add_argument('--max-iters', type=int, default=None,
                   help='instead of the 160k-iteration schedule')
    args = p.parse_args(argv)
    if len(args.crop_size) > 2:
        p.error(f'--crop-size takes H W or one number, got {args.crop_size}')
    check_positive(p, args,
                   ['--batch-size', '--lr', '--max-iters', '--crop-size'])
    return args


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from poa_mm.apis.downstream import mmseg_config
    from poa_mm.cli.downstream_args import generate_config
    generate_config(
        lambda: mmseg_config(
            args.subnet_checkpoint, args.template, args.data_root,
            max_iters=args.max_iters,
            crop_size=args.crop_size * (3 - len(args.crop_size)),
            classes_file=args.classes_file, batch_size=args.batch_size,
            lr=args.lr, layer_decay=args.layer_decay), args.out,
        args.overwrite, [args.subnet_checkpoint, args.classes_file])


if __name__ == '__main__':
    main()

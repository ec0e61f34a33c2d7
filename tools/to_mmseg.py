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
from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.apis.downstream.mmseg import SEG_TEMPLATES
    from poa_mm.cli.downstream_args import parse_task_args, task_parser
    p = task_parser(__doc__, SEG_TEMPLATES, 'the 160k-iteration schedule')
    p.add_argument('--classes-file', default=None)
    p.add_argument('--crop-size', type=int, nargs='+', default=[512],
                   metavar=('H', 'W'),
                   help='training crop, H W (one number: square)')
    return parse_task_args(p, argv, '--crop-size', 'H W')


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from poa_mm.apis.downstream import mmseg_config
    from poa_mm.cli.downstream_args import write_task_config
    write_task_config(mmseg_config, args, [args.classes_file],
                      crop_size=args.crop_size,
                      classes_file=args.classes_file)


if __name__ == '__main__':
    main()

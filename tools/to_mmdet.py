"""Write an MMDetection 3.x config that fine-tunes an extracted sub-network:

    python tools/to_mmdet.py subnets/vit_128x5.pth --template mask-rcnn \
        --data-root data/coco_like --out configs_generated/det.py
    python tools/train.py configs_generated/det.py

COCO-format data: DATA_ROOT/annotations/instances_{train,val}.json and
DATA_ROOT/images/. Training refuses to start unless the backbone holds
exactly the extracted weights.
"""
from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.apis.downstream.mmdet import DET_TEMPLATES
    from poa_mm.cli.downstream_args import parse_task_args, task_parser
    p = task_parser(__doc__, DET_TEMPLATES, 'the 3x schedule')
    p.add_argument('--img-scale', type=int, nargs='+', default=[1333, 800],
                   metavar=('LONG', 'SHORT'),
                   help='resize bound, long and short side (one number: '
                   'both); default COCO\'s 1333 800')
    return parse_task_args(p, argv, '--img-scale', 'LONG SHORT')


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from poa_mm.apis.downstream import mmdet_config
    from poa_mm.cli.downstream_args import write_task_config
    write_task_config(mmdet_config, args, img_scale=args.img_scale)


if __name__ == '__main__':
    main()

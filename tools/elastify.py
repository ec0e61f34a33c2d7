"""Elastify a pre-trained ViT: write a POA initialisation whose intact
network is the given model (student = teacher = it, heads new):

    python tools/elastify.py vit.pth --format mmpretrain|timm|dinov2 \
        --config configs/poa/poa_vit-l16_32xb50-1200e_in1k.py \
        --data data/imagenet/train --out init.pth
    python tools/train.py CONFIG --cfg-options load_from=init.pth

The source must have the supernet's width, depth and patch size (a position
embedding for another grid is resized; register tokens are refused). Heads
and FFN units (and with --reorder-channels the residual channels) are put in
order of importance on a few batches of --data (``DIR/<class>/<image>``), so
that small sub-networks keep the most important parts; --no-reorder skips
it.
"""
import argparse
import sys

from poa_mm.cli.errors import one_line_errors


@one_line_errors
def main(argv=None):
    from poa_mm.apis.elastify import FORMATS
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('source', help='.pth or .safetensors')
    p.add_argument('--format', required=True,
                   choices=FORMATS)
    p.add_argument('--config', required=True, help='a POA config')
    p.add_argument('--out', required=True)
    p.add_argument('--data', help='image folder for the importance order')
    p.add_argument('--batches', type=int, default=4,
                   help='batches of --data scored (default 4)')
    p.add_argument('--no-reorder', action='store_true',
                   help='keep the source order of heads and FFN units')
    p.add_argument('--reorder-channels', action='store_true',
                   help='also order the residual channels by magnitude '
                   '(measured to make small sub-networks worse)')
    p.add_argument('--device', default=None,
                   help='where the importance is scored: cpu, cuda or '
                   'cuda:N (default: cuda when visible)')
    p.add_argument('--overwrite', action='store_true')
    args = p.parse_args(argv)
    if not args.no_reorder and not args.data:
        sys.exit('error: give --data DIR (images to score importance on) '
                 'or --no-reorder')
    from poa_mm.apis.elastify import elastify
    from poa_mm.evaluation.device import resolve_device
    from poa_mm.fileio import check_not_an_input, save_atomic
    check_not_an_input(args.out, [args.source])
    device = resolve_device(args.device)
    ckpt = elastify(args.source, args.format, args.config,
                    None if args.no_reorder else args.data, args.batches,
                    args.reorder_channels, device)
    save_atomic(ckpt, args.out, overwrite=args.overwrite,
                inputs=[args.source])
    print(f'{args.source} ({args.format}) -> {args.out}: POA initialisation '
          f'for {args.config}')


if __name__ == '__main__':
    main()

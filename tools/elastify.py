"""Elastify a pre-trained ViT: write a POA initialisation whose intact
network is the given model (student = teacher = it, heads new):

    python tools/elastify.py vit.pth --format mmpretrain|timm|dinov2 \
        --config configs/poa/poa_vit-l16_32xb50-1200e_in1k.py --out init.pth
    python tools/train.py CONFIG --cfg-options load_from=init.pth

The source must have the supernet's width, depth and patch size (a position
embedding for another grid is resized; register tokens are refused).
Importance reordering and the continued-training recipe are not built yet.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('source', help='.pth or .safetensors')
    p.add_argument('--format', required=True,
                   choices=['mmpretrain', 'timm', 'dinov2'])
    p.add_argument('--config', required=True, help='a POA config')
    p.add_argument('--out', required=True)
    p.add_argument('--overwrite', action='store_true')
    args = p.parse_args(argv)
    if osp.abspath(args.out) == osp.abspath(args.source):
        sys.exit('error: --out must not be the source checkpoint')
    from poa_mm.apis.elastify import elastify
    from poa_mm.apis.extract import save_atomic
    try:
        ckpt = elastify(args.source, args.format, args.config)
        save_atomic(ckpt, args.out, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, OSError) as e:
        sys.exit(f'error: {e}')
    print(f'{args.source} ({args.format}) -> {args.out}: POA initialisation '
          f'for {args.config}')


if __name__ == '__main__':
    main()

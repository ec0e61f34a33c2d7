"""Cut one sub-network out of a POA checkpoint into a standalone checkpoint
for the standard backbone (mmpretrain VisionTransformer / SwinTransformer /
ResNet, or POAStaticResNet):

    python tools/extract_subnet.py work_dirs/poa/iter_500.pth \
        --subnet 128x5 --out subnets/vit_128x5.pth

The output holds ``backbone.``-prefixed tensors and plain metadata (the
backbone config, the spec, the source checkpoint's SHA-256) and loads with
``torch.load(..., weights_only=True)``. It is written atomically, never over
an existing file unless ``--overwrite``; the input is only read.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('checkpoint', help='a POA training checkpoint')
    p.add_argument('--subnet', required=True,
                   help='a spec (768x12, 96x6, 64-4-6) or a preset name')
    p.add_argument('--from', dest='branch', default='teacher',
                   choices=['teacher', 'student'])
    p.add_argument('--out', required=True)
    p.add_argument('--overwrite', action='store_true')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from poa_mm.apis.extract import extract_subnet, save_atomic
    if osp.exists(args.out) and not args.overwrite:
        sys.exit(f'error: {args.out} exists; pass --overwrite to replace it')
    try:
        ckpt = extract_subnet(args.checkpoint, args.subnet, args.branch)
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    save_atomic(ckpt, args.out, overwrite=args.overwrite)
    meta = ckpt['meta']
    n = sum(t.numel() for t in ckpt['state_dict'].values())
    print(f'{meta["subnet"]} ({meta["source"]}, {n / 1e6:.2f} M params) -> '
          f'{args.out} as {meta["backbone_cfg"]["type"]}')


if __name__ == '__main__':
    main()

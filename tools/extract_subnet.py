"""Cut one sub-network out of a POA checkpoint into a standalone checkpoint
for the standard backbone (mmpretrain VisionTransformer / SwinTransformer /
ResNet, or POAStaticResNet):

    python tools/extract_subnet.py work_dirs/poa/iter_500.pth \
        --subnet 128x5 --out subnets/vit_128x5.pth

or the best one under a budget (by measured accuracy where given, a fitted
prediction for the others, else the most expensive that fits):

    python tools/extract_subnet.py CKPT --max-params 1M [--max-flops 50M] \
        [--accuracy work_dirs/demo/knn/knn.json] --out subnets/best.pth

The output holds ``backbone.``-prefixed tensors and plain metadata (the
backbone config, the spec, the source checkpoint's SHA-256) and loads with
``torch.load(..., weights_only=True)``. It is written atomically, never over
an existing file unless ``--overwrite``; the input is only read.
"""
import argparse
import os.path as osp
import sys

from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.apis.extract import BRANCHES, SUBNET_FORMATS
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('checkpoint', help='a POA training checkpoint')
    p.add_argument('--subnet',
                   help='a spec (768x12, 96x6, 64-4-6) or a preset name')
    p.add_argument('--max-params', help='budget, e.g. 25e6 or 25M')
    p.add_argument('--max-flops', help='budget (multiply-adds), e.g. 4.5G')
    p.add_argument('--max-latency-ms', type=float,
                   help='budget, measured here at batch 1 on the CPU (a few '
                   'sub-networks timed, the rest predicted from FLOPs)')
    p.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'),
                   help="for --max-flops / --max-latency-ms; default: the "
                   "backbone's")
    p.add_argument('--accuracy', help='knn.json (tools/knn_eval.py)')
    p.add_argument('--metric', default='k20', help='accuracy column')
    p.add_argument('--from', dest='branch', default='teacher',
                   choices=BRANCHES)
    p.add_argument('--format', default='mmpretrain',
                   choices=SUBNET_FORMATS,
                   help='mmpretrain: a checkpoint for the standard backbone; '
                   'timm (ViT): a safetensors state dict for '
                   'timm.create_model plus a .json of its arguments')
    p.add_argument('--out', required=True)
    p.add_argument('--overwrite', action='store_true')
    args = p.parse_args(argv)
    budget = args.max_params or args.max_flops or args.max_latency_ms
    if bool(args.subnet) == bool(budget):
        p.error('give either --subnet or a budget (--max-params, '
                '--max-flops, --max-latency-ms)')
    if args.max_latency_ms is not None and args.max_latency_ms <= 0:
        p.error('--max-latency-ms must be positive')
    return args


def choose(args, loaded) -> str:
    """The sub-network under the budget; prints the choice and runner-up."""
    import json

    from poa_mm.apis.family import subnet_family
    from poa_mm.apis.pick import parse_count, pick_subnet
    accuracy = None
    if args.accuracy:
        with open(args.accuracy) as f:
            accuracy = json.load(f)
    rows = subnet_family(loaded[0], input_size=args.input_size)
    if args.max_latency_ms:
        from poa_mm.apis.latency import family_latency
        timed = family_latency(loaded[0], rows, args.input_size)
        rows = timed['rows']
        if timed['holdout_error'] is not None:
            print(f'latency fit: {100 * timed["holdout_error"]:.1f} % mean '
                  f'error on held-out sub-networks, '
                  f'{timed["threads"]} threads')
    picked = pick_subnet(
        rows,
        max_params=args.max_params and parse_count(args.max_params),
        max_flops=args.max_flops and parse_count(args.max_flops),
        accuracy=accuracy, metric=args.metric,
        max_latency_ms=args.max_latency_ms)

    def describe(r):
        text = (f'{r["subnet"]}: {r["params_m"]:.2f} M params, '
                f'{r["gflops"]:.3f} GFLOPs')
        if 'latency_ms' in r:
            kind = 'predicted' if r['latency_predicted'] else 'measured'
            text += f', {r["latency_ms"]:.2f} ms ({kind})'
        if 'accuracy' in r:
            kind = 'predicted' if r['predicted'] else 'measured'
            text += f', {args.metric} {r["accuracy"]:.2f} ({kind})'
        return text

    print(f'chosen by {picked["ranked_by"]}: {describe(picked["choice"])}')
    if picked['runner_up']:
        print(f'runner-up: {describe(picked["runner_up"])}')
    return picked['choice']['subnet']


def save_classifier(args, raw, inputs) -> None:
    """One size of an ElasticImageClassifier checkpoint as a stock
    ImageClassifier checkpoint (backbone and sliced head)."""
    from poa_mm.apis.extract_classifier import (
        extract_classifier,
        load_classifier_checkpoint,
    )
    from poa_mm.elastic.base import count_params
    from poa_mm.fileio import save_atomic
    if not args.subnet or args.format != 'mmpretrain':
        raise ValueError('an ElasticImageClassifier checkpoint is extracted '
                         'by --subnet, as a stock ImageClassifier (no '
                         'budget, no --format timm)')
    loaded = load_classifier_checkpoint(args.checkpoint, raw)
    ckpt = extract_classifier(args.checkpoint, args.subnet, loaded)
    save_atomic(ckpt, args.out, overwrite=args.overwrite, inputs=inputs)
    meta = ckpt['meta']
    n = count_params(ckpt['state_dict'])
    print(f'{meta["subnet"]} classifier ({meta["head_cfg"]["num_classes"]} '
          f'classes, {n / 1e6:.2f} M params) -> {args.out} as '
          f'mmpretrain.ImageClassifier (tools/to_mmpretrain.py writes its '
          'config)')


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from poa_mm.fileio import load_checkpoint
    from poa_mm.apis.extract import (
        extract_subnet,
        extract_timm,
        load_poa_checkpoint,
        save_timm,
        timm_meta_path,
    )
    from poa_mm.apis.extract_classifier import is_classifier_checkpoint
    from poa_mm.elastic.base import count_params
    from poa_mm.fileio import check_not_an_input, save_atomic
    inputs = [args.checkpoint, getattr(args, 'accuracy', None)]
    for out in [args.out] + ([timm_meta_path(args.out)]
                             if args.format == 'timm' else []):
        check_not_an_input(out, inputs)
    if osp.exists(args.out) and not args.overwrite:
        sys.exit(f'error: {args.out} exists; pass --overwrite to replace it')
    raw = load_checkpoint(args.checkpoint)
    if is_classifier_checkpoint(raw):
        return save_classifier(args, raw, inputs)
    loaded = load_poa_checkpoint(args.checkpoint, raw)
    del raw
    subnet = args.subnet or choose(args, loaded)
    if args.format == 'timm':
        meta, weights = extract_timm(args.checkpoint, subnet,
                                     args.branch, loaded)
        meta_path = save_timm(meta, weights, args.out, args.overwrite,
                              inputs)
        n = count_params(weights)
        print(f'{meta["subnet"]} ({meta["source"]}, {n / 1e6:.2f} M '
              f'params) -> {args.out} and {meta_path} for '
              f'timm.create_model({meta["architecture"]!r}, **kwargs)')
        return
    ckpt = extract_subnet(args.checkpoint, subnet, args.branch, loaded)
    save_atomic(ckpt, args.out, overwrite=args.overwrite, inputs=inputs)
    meta = ckpt['meta']
    n = count_params(ckpt['state_dict'])
    print(f'{meta["subnet"]} ({meta["source"]}, {n / 1e6:.2f} M params) -> '
          f'{args.out} as {meta["backbone_cfg"]["type"]}')


if __name__ == '__main__':
    main()

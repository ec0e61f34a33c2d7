"""Export an extracted sub-network (tools/extract_subnet.py) to ONNX:

    python tools/export_onnx.py subnets/vit_128x5.pth --out vit.onnx \
        [--input-size 224 224] [--dynamic-batch] [--overwrite]

ONNX Runtime runs the file against PyTorch (at another batch size than the
traced one with --dynamic-batch); the file is written only when they agree
to 1e-4 relative. Outputs: the backbone's feature tuple (out0, out1, ...),
or for a classifier extracted from an ElasticImageClassifier checkpoint its
class scores (logits).
"""
import argparse
import sys

from poa_mm.cli.errors import describe, one_line_errors

MAX_SIZE = 8192  # px: far above any backbone's input, far below a crash


@one_line_errors
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('checkpoint', help='written by tools/extract_subnet.py '
                   '(a backbone or a classifier)')
    p.add_argument('--out', required=True)
    p.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'))
    p.add_argument('--dynamic-batch', action='store_true')
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--overwrite', action='store_true')
    args = p.parse_args(argv)
    if args.input_size and not all(1 <= s <= MAX_SIZE
                                   for s in args.input_size):
        p.error(f'--input-size must be two sizes in [1, {MAX_SIZE}], got '
                f'{args.input_size}')
    if not 9 <= args.opset <= 23:
        p.error(f'--opset must be in [9, 23], got {args.opset}')
    from poa_mm.apis.onnx_export import export_onnx
    from poa_mm.fileio import check_not_an_input
    try:
        check_not_an_input(args.out, [args.checkpoint])
        report = export_onnx(args.checkpoint, args.out, args.input_size,
                             args.dynamic_batch, args.overwrite,
                             opset=args.opset)
    except (ValueError, OSError) as e:
        sys.exit(f'error: {describe(e)}')
    except Exception as e:  # the exporter's own errors (an opset, an op)
        sys.exit(f'error: the ONNX export failed: {type(e).__name__}: '
                 f'{str(e).strip().splitlines()[0] if str(e) else ""}')
    print(f'{args.out}: input (N, C, {report["input_size"][0]}, '
          f'{report["input_size"][1]}), outputs {report["outputs"]}; ONNX '
          f'Runtime vs PyTorch at batch {report["checked_batch"]}: max abs '
          f'diff {report["max_abs_diff"]:.2e} (relative '
          f'{report["relative_diff"]:.2e})')


if __name__ == '__main__':
    main()

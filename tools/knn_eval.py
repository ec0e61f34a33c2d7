"""k-NN evaluation of many sub-networks of a POA checkpoint.

    python tools/knn_eval.py CONFIG CKPT --subnets all
    python tools/knn_eval.py CONFIG CKPT --subnets min 128x5 max \
        --train-dir data/x/train --val-dir data/x/val --out-dir results/

Prints a table (smallest sub-network first) and writes knn.csv / knn.json.
"""
from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.cli.eval_args import eval_parser, parse_probe_args
    p = eval_parser(__doc__)
    from poa_mm.evaluation.knn import KNN_KS, KNN_TEMPERATURE
    p.add_argument('--ks', nargs='+', type=int, default=list(KNN_KS))
    p.add_argument('--temperature', type=float, default=KNN_TEMPERATURE)
    p.add_argument('--compare-random-init', action='store_true',
                   help='also evaluate the same sub-networks with the '
                   "config's random initial weights")
    p.add_argument('--raw-pixels', action='store_true',
                   help='add a row: k-NN on the flattened images')
    p.add_argument('--linear-probe', action='store_true',
                   help='also linear-probe the sub-networks on the same '
                   'features (as tools/linear_probe.py; its options below)')
    args = parse_probe_args(p, argv)
    if min(args.ks) < 1:
        p.error(f'--ks must be positive integers, got {args.ks}')
    if not args.temperature > 0:
        p.error(f'--temperature must be positive, got {args.temperature}')
    return args


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from mmengine.runner.utils import set_random_seed

    from poa_mm.apis.eval_common import (
        format_table,
        load_poa_model,
        write_rows,
    )
    from poa_mm.cli.eval_args import out_dir, prepare_eval, run_linear_probe
    from poa_mm.evaluation import evaluate_subnets
    from poa_mm.evaluation.knn import check_ks
    cfg, model, specs, loaders, device, dtype = prepare_eval(args,
                                                             'knn_eval')
    check_ks(args.ks, len(loaders[0].dataset), '--ks: ')
    print(f'k-NN of {len(specs)} sub-network(s) on {device}'
          + (' (bf16 autocast)' if dtype else ''))
    baseline = None
    if args.compare_random_init:
        set_random_seed(args.seed)
        baseline = load_poa_model(cfg, device=device)
    cache = {} if args.linear_probe else None
    rows = evaluate_subnets(model, specs, *loaders, ks=args.ks,
                            temperature=args.temperature, baseline=baseline,
                            progress=print, cache=cache, dtype=dtype)
    if args.raw_pixels:
        from poa_mm.evaluation.knn import raw_pixel_row
        rows.append(raw_pixel_row(model, *loaders, ks=args.ks,
                                  temperature=args.temperature))
    cols = ['subnet', 'params_m'] + [f'k{k}' for k in args.ks]
    if baseline:
        cols += [f'random_k{k}' for k in args.ks]
    print(format_table(rows, cols))
    write_rows(rows, out_dir(args), 'knn')
    if args.linear_probe:
        run_linear_probe(model, specs, loaders, args, cache, dtype)
    return rows


if __name__ == '__main__':
    main()

"""Linear probes of many sub-networks of a POA checkpoint at once.

    python tools/linear_probe.py CONFIG CKPT --subnets min 128x5 max \
        [--train-dir data/x/train --val-dir data/x/val] [--out-dir results/]

Frozen teacher features (CLS, and CLS + average-pooled patch tokens); one
linear classifier per learning rate and feature variant, trained together;
the best is chosen on a held-out part (--holdout) of the training folder and
its top-1 on the val folder is reported. Prints a table and writes
linear.csv / linear.json (next to the checkpoint by default).
"""
from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.cli.eval_args import eval_parser, parse_probe_args
    return parse_probe_args(eval_parser(__doc__), argv)


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from poa_mm.cli.eval_args import prepare_eval, run_linear_probe
    setup = prepare_eval(args, 'linear_probe')
    return run_linear_probe(setup.model, setup.specs, setup.loaders, args,
                            dtype=setup.dtype)


if __name__ == '__main__':
    main()

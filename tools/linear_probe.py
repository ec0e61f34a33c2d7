"""Linear probes of many sub-networks of a POA checkpoint at once.

    python tools/linear_probe.py CONFIG CKPT --subnets min 128x5 max \
        [--train-dir data/x/train --val-dir data/x/val] [--out-dir results/]

Frozen teacher features (CLS, and CLS + average-pooled patch tokens); one
linear classifier per learning rate and feature variant, trained together;
the best is chosen on a held-out part (--holdout) of the training folder and
its top-1 on the val folder is reported. Prints a table and writes
linear.csv / linear.json (next to the checkpoint by default).
"""
import argparse
import sys

from poa_mm.cli.errors import one_line_errors


def parse_args(argv=None):
    from poa_mm.cli.eval_args import (
        add_eval_args,
        add_probe_args,
        check_probe_args,
    )
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    add_eval_args(p)
    add_probe_args(p)
    args = p.parse_args(argv)
    check_probe_args(p, args)
    return args


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmengine.runner.utils import set_random_seed

    from poa_mm.apis.eval_common import labelled_loaders, load_poa_model
    from poa_mm.cli.eval_args import (
        check_out_dir,
        device_and_dtype,
        run_linear_probe,
    )
    check_out_dir(args)
    device, dtype = device_and_dtype(args)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    loaders = labelled_loaders(cfg, args.train_dir, args.val_dir,
                               args.batch_size, args.num_workers)
    MMLogger.get_instance('linear_probe', log_level='WARNING')
    set_random_seed(args.seed)
    model = load_poa_model(cfg, args.checkpoint, device)
    specs = model.backbone.search_space.select(args.subnets)
    return run_linear_probe(model, specs, loaders, args, dtype=dtype)


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileNotFoundError) as e:
        from poa_mm.utils import one_line
        sys.exit(f'error: {one_line(e)}')

"""Command-line arguments shared by tools/knn_eval.py and
tools/linear_probe.py."""
import argparse
import os.path as osp
from typing import NamedTuple, Optional

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner.utils import set_random_seed

from ..apis.eval_common import (format_table, labelled_loaders,
                                load_poa_model, write_rows)
from ..evaluation.device import resolve_device, resolve_dtype
from ..evaluation.linear_probe import PROBE_LRS, linear_probe


def eval_parser(doc: str) -> argparse.ArgumentParser:
    """An evaluation tool's parser with ``add_eval_args``."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawTextHelpFormatter)
    add_eval_args(p)
    return p


def add_eval_args(p: argparse.ArgumentParser) -> None:
    """Config, checkpoint, sub-networks, folders, loader and output."""
    p.add_argument('config')
    p.add_argument('checkpoint', help='a POA training checkpoint')
    p.add_argument('--subnets', nargs='+', default=['all'],
                   help='"all", preset names or specs such as 128x5')
    p.add_argument('--train-dir', help="defaults to the config's knn_cfg")
    p.add_argument('--val-dir', help="defaults to the config's knn_cfg")
    p.add_argument('--batch-size', type=int, default=None)
    p.add_argument('--num-workers', type=int, default=0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out-dir', default=None,
                   help='where the CSV and JSON go (default: next to the '
                   'checkpoint)')
    p.add_argument('--device', default=None,
                   help='cpu, cuda or cuda:N (default: cuda when visible)')
    p.add_argument('--amp', action='store_true',
                   help='bf16 autocast for the forward passes (CUDA only; '
                   'features and classifiers stay fp32)')


def add_probe_args(p: argparse.ArgumentParser) -> None:
    """The linear probe's learning rates, epochs and held-out fraction."""
    p.add_argument('--lrs', nargs='+', type=float, default=list(PROBE_LRS))
    p.add_argument('--epochs', type=int, default=100)
    p.add_argument('--holdout', type=float, default=0.2,
                   help='fraction of each training class held out to '
                   'choose the lr and variant')


def parse_probe_args(p: argparse.ArgumentParser,
                     argv=None) -> argparse.Namespace:
    """Add ``add_probe_args``, parse and check the probe's settings."""
    add_probe_args(p)
    args = p.parse_args(argv)
    if min(args.lrs) <= 0 or args.epochs < 1:
        p.error('--lrs must be positive and --epochs at least 1')
    if not 0 < args.holdout < 1:
        p.error(f'--holdout must be in (0, 1), got {args.holdout}')
    return args


class EvalSetup(NamedTuple):
    """What an evaluation tool works on (``prepare_eval``)."""
    cfg: Config
    model: torch.nn.Module
    specs: list
    loaders: tuple
    device: torch.device
    dtype: Optional[torch.dtype]


def prepare_eval(args, logger_name: str) -> EvalSetup:
    """What the evaluation tools do first: check the checkpoint and the
    output folder, read the config, build its labelled loaders, load the
    POA model (quietly, seeded) and resolve ``--subnets``."""
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    check_out_dir(args)
    device, dtype = device_and_dtype(args)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    loaders = labelled_loaders(cfg, args.train_dir, args.val_dir,
                               args.batch_size, args.num_workers)
    # Quiet: the per-parameter init report of mmengine is not wanted here.
    MMLogger.get_instance(logger_name, log_level='WARNING')
    set_random_seed(args.seed)
    model = load_poa_model(cfg, args.checkpoint, device)
    specs = model.backbone.search_space.select(args.subnets)
    return EvalSetup(cfg, model, specs, loaders, device, dtype)


def device_and_dtype(args):
    """``--device`` and ``--amp`` resolved: (torch.device, autocast dtype or
    None)."""
    device = resolve_device(args.device)
    return device, resolve_dtype('bfloat16' if args.amp else None, device)


def run_linear_probe(model, specs, loaders, args, cache=None,
                     dtype=None) -> list:
    """Linear-probe ``specs``, print the table and write linear.csv/json."""
    train, val = loaders
    rows = linear_probe(model, specs, train, val, lrs=args.lrs,
                        epochs=args.epochs, holdout=args.holdout,
                        num_classes=len(train.dataset.metainfo['classes']),
                        progress=print, cache=cache, dtype=dtype)
    print(format_table(rows, ['subnet', 'linear', 'holdout', 'lr',
                              'variant']))
    write_rows(rows, out_dir(args), 'linear')
    return rows


def out_dir(args) -> str:
    """``--out-dir``, or the checkpoint's folder."""
    return args.out_dir or osp.dirname(osp.abspath(args.checkpoint))


def check_out_dir(args) -> None:
    """``ValueError`` before any work when the results could not be
    written (a read-only folder, a path under a regular file)."""
    import os
    import tempfile
    folder = out_dir(args)
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f'cannot write the results to {folder}: '
                         f'{e.strerror or e}') from None

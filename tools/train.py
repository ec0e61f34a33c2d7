"""Train with any OpenMMLab 2.x config (MMPretrain, MMDetection or
MMSegmentation scope), on GPUs or CPU-only machines, single process or
distributed (``tools/dist_train.sh``)."""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from poa_mm.fileio import UNSAFE_LOAD_ENV, allow_runner_checkpoints
from poa_mm.apis.config_check import (
    check_cfg_options,
    check_config_keys,
    check_data_roots,
)
from poa_mm.apis.training import (
    LAUNCHERS,
    add_run_hooks,
    apply_amp,
    apply_resume,
    check_counts,
    check_fresh_work_dir,
    check_resume_recipe,
    check_resume_shapes,
    check_same_supernet,
    check_weights_fit,
    cpu_model_wrapper,
    init_cpu_distributed,
    last_checkpoint,
    lock_work_dir,
    read_config,
    read_resume,
)
from poa_mm.cli.errors import describe, one_line_errors
from poa_mm.datasets import CorruptImageError
from poa_mm.datasets.loading import UNREADABLE_LOG_ENV
from poa_mm.engine import NonFiniteLossError, protect_loader_workers
from poa_mm.utils import SettingError, one_line


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--resume-weights-only',
        metavar='CHECKPOINT',
        help='start a new run (iteration 0, fresh optimizer and schedule) '
        'from the weights of a checkpoint: the way to reuse a run under a '
        'changed recipe, which --resume refuses (MMEngine\'s load_from)')
    parser.add_argument(
        '--restart',
        action='store_true',
        help='start a new run in a work dir that holds checkpoints of an '
        'earlier one (they are replaced as the new run reaches them); '
        'without it such a work dir is refused')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='bf16 autocast, on GPU and CPU (as the evaluation tools\' '
        '--amp); for fp16 AMP set optim_wrapper.type=AmpOptimWrapper')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher')
    parser.add_argument(
        '--unsafe-load',
        action='store_true',
        help='load checkpoints (--resume, load_from) with full unpickling, '
        'which runs any code a crafted file holds; only for files you '
        'trust that the safe loader refuses')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args) -> Config:
    """The config with the command line applied; ``ValueError`` (one line)
    for an unreadable config or a ``--cfg-options`` key nothing reads."""
    cfg = read_config(args.config)
    if args.cfg_options is not None:
        error = check_cfg_options(cfg, args.cfg_options)
        if error:
            raise ValueError(error)
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        apply_amp(cfg)
    if not cfg.get('model'):
        raise ValueError(f'{args.config} defines no model (an empty or '
                         'partial config?)')
    error = check_config_keys(cfg)
    if error:
        raise ValueError(error)
    check_counts(cfg)
    if args.launcher == 'pytorch' and 'WORLD_SIZE' not in os.environ:
        raise ValueError('--launcher pytorch needs the environment torchrun '
                         'sets (RANK, WORLD_SIZE, MASTER_ADDR): start with '
                         'tools/dist_train.sh CONFIG N')
    apply_resume(cfg, args.resume, args.resume_weights_only, args.restart)

    if args.launcher != 'none' and not torch.cuda.is_available():
        cpu_model_wrapper(cfg)
    add_run_hooks(cfg)
    return cfg


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    if args.unsafe_load:
        print('warning: --unsafe-load: checkpoints are fully unpickled and '
              'can run code', file=sys.stderr)
        os.environ[UNSAFE_LOAD_ENV] = '1'
    else:
        # Runner checkpoints (numpy scalars, HistoryBuffer) load with
        # torch's weights_only=True default and our allowlist, nothing else.
        allow_runner_checkpoints()
    try:
        cfg = build_config(args)
    except ValueError as e:
        sys.exit(f'error: {describe(e)}')
    # Checkpoint problems first: more specific than a missing data folder.
    try:
        resumed = read_resume(args.resume, cfg.work_dir, args.unsafe_load)
    except ValueError as e:
        sys.exit(f'error: {describe(e)}')
    error = check_fresh_work_dir(
        cfg.work_dir, args.resume, args.restart) or check_same_supernet(
        cfg, args.unsafe_load, resumed) or check_resume_recipe(
            cfg, resumed) or check_data_roots(cfg)
    if error:
        sys.exit(f'error: {error}')
    try:
        lock = lock_work_dir(cfg.work_dir)  # held until the process ends
    except OSError as e:  # read-only, a file of that name, no permission
        sys.exit(f'error: cannot use {cfg.work_dir} as the work dir: '
                 f'{e.strerror}')
    if isinstance(lock, str):
        sys.exit(f'error: {lock}')
    skipped = osp.join(cfg.work_dir, 'unreadable_images.txt')
    if args.resume is None and lock is not None and osp.exists(skipped):
        os.remove(skipped)  # an earlier run's (--restart)
    os.environ[UNREADABLE_LOG_ENV] = skipped
    if args.launcher != 'none' and not torch.cuda.is_available() \
            and not torch.distributed.is_initialized():
        dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
        init_cpu_distributed(args.launcher, dist_cfg.get('timeout', 300))
    try:
        runner = Runner.from_cfg(cfg)
    except SettingError as e:  # MMEngine's registry prefixes the class
        sys.exit(f'error: {describe(e)}')
    error = check_resume_shapes(runner.model, resumed)
    if args.resume_weights_only and not error:
        error = check_weights_fit(runner.model, args.resume_weights_only,
                                  args.unsafe_load)
    if error:
        sys.exit(f'error: {error}')
    protect_loader_workers(runner)
    try:
        runner.train()
    except NonFiniteLossError as e:
        sys.exit(f'error: {e}; training stopped. Last good checkpoint: '
                 f'{last_checkpoint(runner.work_dir)}')
    except SettingError as e:  # checked when the optimizer is built
        sys.exit(f'error: {describe(e)}')
    except CorruptImageError as e:
        # Raised in a DataLoader worker, it arrives wrapped in the worker's
        # traceback text; its own message is the last line.
        sys.exit(f'error: {one_line(e)}')
    except OSError as e:  # a full disk, a read-only or vanished folder
        what = f'{e.strerror}: {e.filename}' if e.filename else str(e)
        sys.exit(f'error: {what}; training stopped. Last good checkpoint: '
                 f'{last_checkpoint(runner.work_dir)}')


if __name__ == '__main__':
    main()

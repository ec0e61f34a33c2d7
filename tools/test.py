"""Test a checkpoint with any OpenMMLab 2.x config, as MMPretrain's own
tools/test.py does, on GPUs or CPU-only machines, single process or
distributed (``tools/dist_test.sh``): a config of tools/to_mmpretrain.py
tests one size, or every size of an elastic fine-tuning (FamilyTestLoop).

    python tools/test.py family.py work_dirs/family/iter_300.pth
    bash tools/dist_test.sh family.py work_dirs/family/iter_300.pth 8
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import DictAction
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from poa_mm.apis.training import (
    LAUNCHERS,
    check_weights_fit,
    cpu_model_wrapper,
    init_cpu_distributed,
    read_config,
)
from poa_mm.cli.errors import describe, one_line_errors


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--work-dir', help='where to save the logs and metrics')
    p.add_argument('--out', help="dump each image's prediction (a pickle)")
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override settings in the config, key=value pairs')
    p.add_argument('--launcher', choices=LAUNCHERS,
                   default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


@one_line_errors
def main(argv=None):
    args = parse_args(argv)
    from poa_mm.fileio import allow_runner_checkpoints
    from poa_mm.apis.config_check import check_cfg_options, check_config_keys
    allow_runner_checkpoints()
    try:
        cfg = read_config(args.config)
    except ValueError as e:
        sys.exit(f'error: {describe(e)}')
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint not found: {args.checkpoint}')
    if args.cfg_options:
        error = check_cfg_options(cfg, args.cfg_options)
        if error:
            sys.exit(f'error: {error}')
        cfg.merge_from_dict(args.cfg_options)
    error = check_config_keys(cfg)
    if error:
        sys.exit(f'error: {error}')
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.out:
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluator = cfg.test_evaluator
        cfg.test_evaluator = ([*evaluator, dump] if isinstance(
            evaluator, (list, tuple)) else [evaluator, dump])
    if args.launcher != 'none' and not torch.cuda.is_available():
        cpu_model_wrapper(cfg)
        if not torch.distributed.is_initialized():
            dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
            init_cpu_distributed(args.launcher, dist_cfg.get('timeout', 300))
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model  # DDP: the keys without 'module.'
    error = check_weights_fit(model, args.checkpoint, prefix='',
                              option='test')
    if error:
        sys.exit(f'error: {error}')
    runner.test()


if __name__ == '__main__':
    main()

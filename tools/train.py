"""Train with any OpenMMLab 2.x config (MMPretrain, MMDetection or
MMSegmentation scope), on GPUs or CPU-only machines, single process or
distributed (``tools/dist_train.sh``)."""
import argparse
import datetime
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner



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
        '--restart',
        action='store_true',
        help='start a new run in a work dir that holds checkpoints of an '
        'earlier one (they are replaced as the new run reaches them); '
        'without it such a work dir is refused')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: fp16 AMP on GPU, bf16 autocast on CPU '
        '(POA configs: bf16 autocast everywhere)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
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


def init_cpu_distributed(launcher: str, timeout_s: float = 300) -> None:
    """Initialise gloo ourselves on machines without CUDA, with a
    collective timeout (``env_cfg.dist_cfg.timeout``, seconds; 300 by
    default) so that a stalled rank ends the run instead of hanging it.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally;
    once a process group exists the Runner skips it.
    """
    if launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            raise RuntimeError('set MASTER_ADDR for a CPU slurm run')
    torch.distributed.init_process_group(
        backend='gloo', timeout=datetime.timedelta(seconds=timeout_s))


def read_config(path: str) -> Config:
    """``Config.fromfile`` with one-line errors (``ValueError``)."""
    if not osp.isfile(path):
        raise ValueError(f'config not found: {path}')
    try:
        return Config.fromfile(path)
    except Exception as e:  # syntax errors, bad _base_, failed imports
        detail = str(e).strip().splitlines()
        raise ValueError(f'cannot read config {path}: {type(e).__name__}: '
                         f'{detail[-1] if detail else ""}') from e


def build_config(args) -> Config:
    """The config with the command line applied; ``ValueError`` (one line)
    for an unreadable config or a ``--cfg-options`` key nothing reads."""
    from poa_mm.apis.config_check import check_cfg_options
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
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper.split('.')[-1] == 'POAOptimWrapper':
            # Keeps its per-module clipping; bf16 needs no loss scaler. On
            # CPU --amp is the explicit choice of bf16 autocast.
            cfg.optim_wrapper.dtype = 'bfloat16'
            cfg.optim_wrapper.cpu_autocast = True
        elif torch.cuda.is_available():
            if optim_wrapper in ('OptimWrapper', 'mmengine.OptimWrapper'):
                cfg.optim_wrapper.type = 'AmpOptimWrapper'
                cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:
            # AmpOptimWrapper refuses CPU; bf16 autocast works on both.
            cfg.optim_wrapper.type = 'mmpretrain.BF16AutocastOptimWrapper'

    if not cfg.get('model'):
        raise ValueError(f'{args.config} defines no model (an empty or '
                         'partial config?)')
    check_counts(cfg)
    if args.launcher == 'pytorch' and 'WORLD_SIZE' not in os.environ:
        raise ValueError('--launcher pytorch needs the environment torchrun '
                         'sets (RANK, WORLD_SIZE, MASTER_ADDR): start with '
                         'tools/dist_train.sh CONFIG N')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.launcher != 'none' and not torch.cuda.is_available():
        cpu_model_wrapper(cfg)
    return cfg


def cpu_model_wrapper(cfg: Config) -> None:
    """CPU processes: the config's DDP wrapper without device ids (gloo)."""
    wrapper = dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def main(argv=None):
    args = parse_args(argv)
    if args.unsafe_load:
        print('warning: --unsafe-load: checkpoints are fully unpickled and '
              'can run code', file=sys.stderr)
        from poa_mm.apis.checkpoint import UNSAFE_LOAD_ENV
        os.environ[UNSAFE_LOAD_ENV] = '1'
    else:
        # Runner checkpoints (numpy scalars, HistoryBuffer) load with
        # torch's weights_only=True default and our allowlist, nothing else.
        from poa_mm.apis.checkpoint import allow_runner_checkpoints
        allow_runner_checkpoints()
    try:
        cfg = build_config(args)
    except ValueError as e:
        sys.exit(f'error: {e}')
    from poa_mm.apis.config_check import check_data_roots
    # Checkpoint problems first: more specific than a missing data folder.
    try:
        resumed = read_resume(args, cfg.work_dir)
    except ValueError as e:
        sys.exit(f'error: {e}')
    error = check_fresh_work_dir(args, cfg.work_dir) or check_same_supernet(
        cfg, args.unsafe_load, resumed) or check_data_roots(cfg)
    if error:
        sys.exit(f'error: {error}')
    lock = lock_work_dir(cfg.work_dir)  # held until the process ends
    if isinstance(lock, str):
        sys.exit(f'error: {lock}')
    if args.launcher != 'none' and not torch.cuda.is_available() \
            and not torch.distributed.is_initialized():
        dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
        init_cpu_distributed(args.launcher, dist_cfg.get('timeout', 300))
    from poa_mm.utils import SettingError, one_line
    try:
        runner = Runner.from_cfg(cfg)
    except SettingError as e:  # MMEngine's registry prefixes the class
        sys.exit(f'error: {e}')
    error = check_resume_shapes(runner.model, resumed)
    if error:
        sys.exit(f'error: {error}')
    from poa_mm.datasets import CorruptImageError
    from poa_mm.engine import NonFiniteLossError
    try:
        runner.train()
    except NonFiniteLossError as e:
        sys.exit(f'error: {e}; training stopped. Last good checkpoint: '
                 f'{last_checkpoint(runner.work_dir)}')
    except SettingError as e:  # checked when the optimizer is built
        sys.exit(f'error: {e}')
    except CorruptImageError as e:
        # Raised in a DataLoader worker, it arrives wrapped in the worker's
        # traceback text; its own message is the last line.
        sys.exit(f'error: {one_line(e)}')
    except OSError as e:  # a full disk, a read-only or vanished folder
        what = f'{e.strerror}: {e.filename}' if e.filename else str(e)
        sys.exit(f'error: {what}; training stopped. Last good checkpoint: '
                 f'{last_checkpoint(runner.work_dir)}')


def resume_path(args, work_dir: str):
    """The checkpoint ``--resume`` continues from, or None."""
    if args.resume != 'auto':
        return args.resume
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(marker):
        return None
    with open(marker) as f:
        return f.read().strip()


def read_resume(args, work_dir: str):
    """What ``--resume`` continues from, read once (a ViT-L checkpoint with
    its optimizer state is gigabytes): ``dict(path, shapes, poa_mm)`` with
    the state dict's tensor shapes and the supernet metadata, or None
    without ``--resume``. ``ValueError`` (one line) for nothing to resume
    from in the work dir, or a checkpoint that is missing, truncated or not
    safely loadable: a run never silently restarts from scratch."""
    if args.resume is None:
        return None
    path = resume_path(args, work_dir)
    if path is None:
        raise ValueError(f'--resume: nothing to resume from in {work_dir} '
                         '(no last_checkpoint); give a checkpoint path or '
                         'drop --resume')
    if args.unsafe_load:
        if not osp.isfile(path):
            raise ValueError(f'checkpoint not found: {path}')
        checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    else:
        from poa_mm.apis.checkpoint import load_checkpoint
        try:
            checkpoint = load_checkpoint(path)
        except (ValueError, FileNotFoundError) as e:
            raise ValueError(f'--resume: {e}') from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f'--resume: {path} is not a training checkpoint '
                         f'(a {type(checkpoint).__name__})')
    state = checkpoint.get('state_dict') or {}
    return dict(path=path,
                shapes={k: tuple(v.shape) for k, v in state.items()
                        if hasattr(v, 'shape')},
                poa_mm=checkpoint.get('poa_mm') or {})


def check_resume_shapes(model, resumed):
    """Why the model cannot resume (one line), or None: the checkpoint's
    tensors have other shapes than the built model's (another head width
    or supernet). MMEngine would only warn, then fail in the first
    optimizer step."""
    if resumed is None:
        return None
    ours = model.state_dict()
    wrong = [f'{k} {shape} (config: {tuple(ours[k].shape)})'
             for k, shape in resumed['shapes'].items()
             if k in ours and shape != tuple(ours[k].shape)]
    if not wrong:
        return None
    return (f'--resume: {resumed["path"]} holds tensors of other shapes '
            f'than the config builds, e.g. {"; ".join(wrong[:2])} '
            f'({len(wrong)} in all): resume with the config it was trained '
            'with, or start a new run')


def check_counts(cfg) -> None:
    """``ValueError`` (one line) for a loop length or batch size that is
    not a positive integer (``max_iters=0`` would exit 0 having done
    nothing; ``abc`` would fail deep inside the Runner), or an optimizer lr
    that is not a positive number."""
    checks = [(f'train_cfg.{k}', (cfg.get('train_cfg') or {}).get(k))
              for k in ('max_iters', 'max_epochs')]
    checks.append(('train_dataloader.batch_size',
                   (cfg.get('train_dataloader') or {}).get('batch_size')))
    for name, value in checks:
        if value is not None and (isinstance(value, bool) or
                                  not isinstance(value, int) or value < 1):
            raise ValueError(f'{name} must be a positive integer, got '
                             f'{value!r}')
    optimizer = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    from poa_mm.utils import check_number
    for key in ('lr', 'weight_decay'):
        if key in optimizer:
            check_number(f'optim_wrapper.optimizer.{key}', optimizer[key],
                         0., low_open=key == 'lr')


def check_fresh_work_dir(args, work_dir: str):
    """Why a new run (no ``--resume``) must not start in ``work_dir`` (one
    line), or None: it holds another run's checkpoints, which the new run
    would overwrite one by one while ``last_checkpoint`` moves back."""
    if args.resume is not None or args.restart or not osp.isdir(work_dir):
        return None
    found = sorted(f for f in os.listdir(work_dir)
                   if f.endswith('.pth') or f == 'last_checkpoint')
    if not found:
        return None
    return (f'{work_dir} holds checkpoints of an earlier run '
            f'({", ".join(found[:3])}{", ..." if len(found) > 3 else ""}): '
            'pass --resume to continue it, --restart to start over in it, '
            'or choose another --work-dir')


def lock_work_dir(work_dir: str):
    """An exclusive lock on ``work_dir/.train.lock`` (the open file; the
    kernel releases it when the process ends, also when it is killed), or
    one line saying that another training process holds it. Only the
    first process of a distributed run (RANK 0) takes it."""
    if os.environ.get('RANK', '0') != '0':
        return None
    import fcntl
    os.makedirs(work_dir, exist_ok=True)
    handle = open(osp.join(work_dir, '.train.lock'), 'a+')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or 'another process'
        handle.close()
        return (f'{work_dir} is in use by another training run ({owner}); '
                'wait for it or choose another --work-dir')
    handle.seek(0)
    handle.truncate()
    handle.write(f'pid {os.getpid()} on {os.uname().nodename}\n')
    handle.flush()
    return handle


def check_same_supernet(cfg, unsafe: bool, resumed=None):
    """Why ``load_from`` (or an explicit ``--resume``) cannot work: a POA
    checkpoint of another supernet than the config's (one line), or
    None. ``resumed`` (:func:`read_resume`) saves reading the file again."""
    path = cfg.get('load_from')
    model = cfg.get('model') or {}
    if not path or unsafe or not osp.isfile(path) or \
            str(model.get('type', '')).split('.')[-1] != 'POA':
        return None
    if resumed is not None and resumed['path'] == path:
        info = resumed['poa_mm']
    else:
        from poa_mm.apis.checkpoint import load_checkpoint
        try:
            info = load_checkpoint(path).get('poa_mm') or {}
        except (ValueError, AttributeError) as e:
            return f'load_from: {e}'
    saved = info.get('backbone_cfg') or {}
    ours = model.get('backbone') or {}

    def arch(c):
        return (c.get('type'), c.get('arch'))

    if saved and arch(saved) != arch(ours):
        return (f'{path} holds the supernet {arch(saved)}, the config '
                f'builds {arch(ours)}; point load_from at a checkpoint of '
                'this supernet')
    return None


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint named in ``work_dir/last_checkpoint``, or 'none'."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(marker):
        return 'none (no checkpoint was written)'
    with open(marker) as f:
        return f.read().strip()


if __name__ == '__main__':
    main()

"""The guards around a training run that ``tools/train.py`` applies: the
config read in one line, the work dir's single writer, what ``--resume``
continues from and whether the config still fits it, the CPU launcher's
process group.

Every check returns (or raises as ``ValueError``) one line for the user;
nothing here starts a run.
"""
import datetime
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config

from ..engine.run_metadata import recipe_changes, resume_recipe
from ..fileio import load_checkpoint
from ..utils import check_number


# tools/train.py's and tools/test.py's --launcher (MMPretrain's choices).
LAUNCHERS = ('none', 'pytorch', 'slurm')


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


def apply_amp(cfg: Config) -> None:
    """``--amp``: bf16 autocast in the config's optimizer wrapper, on GPU
    and CPU alike (the evaluation tools' ``--amp`` too; bf16 needs no loss
    scaler). ``POAOptimWrapper`` keeps its per-module clipping; a plain
    ``OptimWrapper`` becomes ``BF16AutocastOptimWrapper``; any other
    wrapper (an ``AmpOptimWrapper`` the config chose: fp16) is left as
    the config says."""
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper.split('.')[-1] == 'POAOptimWrapper':
        cfg.optim_wrapper.dtype = 'bfloat16'
        cfg.optim_wrapper.cpu_autocast = True
    elif optim_wrapper in ('OptimWrapper', 'mmengine.OptimWrapper'):
        cfg.optim_wrapper.type = 'mmpretrain.BF16AutocastOptimWrapper'


def apply_resume(cfg: Config, resume: Optional[str],
                 weights_only: Optional[str] = None,
                 restart: bool = False) -> None:
    """``--resume [CKPT]`` (continue a run), ``--resume-weights-only CKPT``
    (a new run from its weights: MMEngine's ``load_from``) or ``--restart``
    in the config; ``ValueError`` (one line) for two of them at once."""
    if resume is not None and restart:
        raise ValueError('--resume continues the run of the work dir, '
                         '--restart starts a new one in it: give one')
    if resume is not None and weights_only:
        raise ValueError('--resume continues a run, --resume-weights-only '
                         'starts a new one from its weights: give one')
    if weights_only:
        if not osp.isfile(weights_only):
            raise ValueError('--resume-weights-only: checkpoint not found: '
                             f'{weights_only}')
        cfg.resume, cfg.load_from = False, weights_only
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = None if resume == 'auto' else resume


def add_run_hooks(cfg: Config) -> None:
    """Hooks every run gets unless its config sets them: SIGTERM / SIGUSR1
    save a resumable checkpoint and exit 0 (``PreemptionHook``); skipped
    unreadable images are counted (``UnreadableImagesHook``)."""
    hooks = list(cfg.get('custom_hooks') or [])
    for name in ('PreemptionHook', 'UnreadableImagesHook'):
        if not any(str(h.get('type', '')).endswith(name) for h in hooks):
            hooks.append(dict(type=f'mmpretrain.{name}'))
    cfg.custom_hooks = hooks


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


def cpu_model_wrapper(cfg: Config) -> None:
    """CPU processes: the config's DDP wrapper without device ids (gloo)."""
    wrapper = dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def check_weights_fit(model, path: str, unsafe: bool = False,
                      prefix: str = 'backbone.',
                      option: str = '--resume-weights-only'
                      ) -> Optional[str]:
    """Why loading ``path`` into ``model`` would leave some of it at random
    weights (one line), or None: the checkpoint is unreadable, or misses or
    holds in other shapes a tensor of the model whose name starts with
    ``prefix`` ('' for all). ``--resume-weights-only`` checks the backbone
    (a changed head starts anew; MMEngine warns); a test checks all."""
    try:
        loaded = read_resume(path, '', unsafe)
    except ValueError as e:
        return str(e).replace('--resume:', f'{option}:')
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()
            if k.startswith(prefix)}
    wrong = [k for k, shape in ours.items()
             if loaded['shapes'].get(k) != shape]
    if not wrong:
        return None
    what = 'backbone' if prefix == 'backbone.' else 'model'
    return (f'{option}: {path} does not hold the config\'s {what} '
            f'({len(wrong)} of {len(ours)} tensors missing or of other '
            f'shapes, e.g. {wrong[0]}): give a checkpoint that this config '
            'trained')


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
    for key in ('lr', 'weight_decay'):
        if key in optimizer:
            check_number(f'optim_wrapper.optimizer.{key}', optimizer[key],
                         0., low_open=key == 'lr')


def resume_path(resume: str, work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from (``resume``: a path, or
    'auto' for the work dir's ``last_checkpoint``), or None."""
    if resume != 'auto':
        return resume
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(marker):
        return None
    with open(marker) as f:
        return f.read().strip()


def read_resume(resume: Optional[str], work_dir: str,
                unsafe: bool = False) -> Optional[dict]:
    """What ``--resume`` continues from, read once (a ViT-L checkpoint with
    its optimizer state is gigabytes): ``dict(path, shapes, poa_mm)`` with
    the state dict's tensor shapes and the supernet metadata, or None
    without ``--resume``. ``ValueError`` (one line) for nothing to resume
    from in the work dir, or a checkpoint that is missing, truncated or not
    safely loadable: a run never silently restarts from scratch."""
    if resume is None:
        return None
    path = resume_path(resume, work_dir)
    if path is None:
        raise ValueError(f'--resume: nothing to resume from in {work_dir} '
                         '(no last_checkpoint); give a checkpoint path or '
                         'drop --resume')
    if unsafe:
        if not osp.isfile(path):
            raise ValueError(f'checkpoint not found: {path}')
        checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    else:
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


def check_resume_recipe(cfg, resumed) -> Optional[str]:
    """Why the config cannot resume the checkpoint's run (one line naming
    the differing settings), or None: another supernet family or arch,
    head width, prototype count or crop layout than the run was trained
    with (:func:`~poa_mm.engine.run_metadata.resume_recipe`). Checkpoints
    written before the recipe was stored pass (their tensor shapes are
    still checked)."""
    if resumed is None or not isinstance(resumed['poa_mm'].get('recipe'),
                                         dict):
        return None
    changes = recipe_changes(resumed['poa_mm']['recipe'], resume_recipe(cfg))
    if not changes:
        return None
    more = f' and {len(changes) - 3} more' if len(changes) > 3 else ''
    return (f'--resume: the config differs from the run of '
            f'{resumed["path"]} in {"; ".join(changes[:3])}{more}: resume '
            'with the config it was trained with, or start a new run from '
            'its weights with --resume-weights-only')


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


def check_fresh_work_dir(work_dir: str, resume: Optional[str] = None,
                         restart: bool = False) -> Optional[str]:
    """Why a new run (no ``--resume``) must not start in ``work_dir`` (one
    line), or None: it holds another run's checkpoints, which the new run
    would overwrite one by one while ``last_checkpoint`` moves back."""
    if resume is not None or restart or not osp.isdir(work_dir):
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
    first process of a distributed run (``RANK``, or under Slurm
    ``SLURM_PROCID``, 0) takes it."""
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    if rank != '0':
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

__all__ = [
    'apply_amp', 'apply_resume', 'add_run_hooks', 'read_config',
    'init_cpu_distributed',
    'cpu_model_wrapper',
    'check_counts', 'resume_path', 'read_resume', 'check_resume_recipe',
    'check_resume_shapes', 'check_weights_fit', 'check_fresh_work_dir',
    'lock_work_dir',
    'check_same_supernet', 'last_checkpoint'
]

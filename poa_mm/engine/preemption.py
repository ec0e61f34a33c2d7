"""Preemption notices (SIGTERM, SIGUSR1) turned into a resumable
checkpoint and a clean exit."""
import os
import os.path as osp
import signal
import threading
import time
from typing import Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_rank, is_distributed
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from mmengine.dataset import worker_init_fn as default_worker_init_fn

from ..fileio import write_atomic
from ..utils import SettingError, check_number
from .checkpoint_hook import atomic_runner_saves


NOTICES = ('SIGTERM', 'SIGUSR1')


class TrainingPreempted(SystemExit):
    """The run stopped on a preemption notice after writing a resumable
    checkpoint; exits with status 0 (also under the stock tools)."""

    def __init__(self, message: str):
        super().__init__(0)
        self.message = message


def notice_proof_worker_init(worker_id: int, num_workers: int, rank: int,
                             seed: Optional[int], signals: Sequence[int]):
    """A DataLoader worker's start-up: MMEngine's seeding
    (``default_worker_init_fn``), and the preemption notices ignored unless
    the worker's own main process sends them (as ``multiprocessing`` does
    at exit), so that a signal sent to every process of the job (Slurm,
    ``kill -- -PGID``) does not kill the workers before the main process
    has saved."""
    for signum in signals:
        if signum != signal.SIGTERM:
            signal.signal(signum, signal.SIG_IGN)
    if signal.SIGTERM in signals:
        parent = os.getppid()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

        def watch():
            while True:
                if signal.sigwaitinfo({signal.SIGTERM}).si_pid == parent:
                    os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    if seed is not None:
        default_worker_init_fn(worker_id, num_workers, rank, seed)


def protect_loader_workers(runner, signals: Sequence[str] = NOTICES) -> None:
    """Make the training data loader's workers ignore ``signals``
    (:func:`notice_proof_worker_init`), before ``runner.train()`` builds it.
    A loader with its own ``worker_init_fn`` is left as it is."""
    loader = getattr(runner, '_train_dataloader', None)
    if not isinstance(loader, dict) or 'worker_init_fn' in loader or \
            not loader.get('num_workers'):
        return
    loader['worker_init_fn'] = dict(
        type=notice_proof_worker_init, num_workers=loader['num_workers'],
        rank=get_rank(), seed=runner.seed,
        signals=tuple(getattr(signal, name) for name in signals))


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Save a resumable checkpoint and exit 0 when the job is told to stop.

    SIGTERM (Slurm's and Kubernetes' notice) or SIGUSR1 (Slurm
    ``--signal=USR1@SECONDS``) sets a flag; at the next iteration boundary
    the ranks agree on it (one all-reduce of a scalar per iteration), rank
    0 writes ``iter_N.pth`` atomically with the optimizer, schedule and
    sampler state and points ``last_checkpoint`` at it, and every rank
    exits with status 0. ``tools/train.py --resume`` then continues from
    iteration N as if uninterrupted (iteration-based loops; an epoch-based
    loop restarts the interrupted epoch, as MMEngine resumes).

    A second notice more than ``repeat_s`` seconds after the first exits at
    once with the signal's status; checkpoints are written under a
    temporary name, so the last complete one stays intact. Notices within
    ``repeat_s`` count as one (``torchrun`` forwards the SIGTERM that Slurm
    already sent to every task). If no iteration boundary comes within
    ``grace_s`` seconds of the notice (a stalled data loader or peer), the
    process exits with status 1 without saving.

    ``tools/train.py`` adds this hook to every run and makes the data
    loader's workers ignore the notices (:func:`protect_loader_workers`;
    under the stock tools, a notice sent to the whole process group kills
    the workers before the save).

    Args:
        signals (Sequence[str]): Signal names that mean "stop".
            Defaults to ``('SIGTERM', 'SIGUSR1')``.
        repeat_s (float): Notices this close count as one. Defaults to 2.
        grace_s (float): Longest wait for an iteration boundary after the
            notice. Defaults to 600.
    """

    priority = 'LOWEST'  # after the CheckpointHook of the same iteration

    def __init__(self, signals: Sequence[str] = NOTICES,
                 repeat_s: float = 2., grace_s: float = 600.):
        self.signals = []
        for name in signals:
            signum = getattr(signal, str(name), None)
            if not isinstance(signum, signal.Signals):
                raise SettingError(
                    f'PreemptionHook: unknown signal {name!r} (for example '
                    "'SIGTERM', 'SIGUSR1')")
            self.signals.append(signum)
        self.repeat_s = check_number('PreemptionHook: repeat_s', repeat_s, 0.)
        self.grace_s = check_number('PreemptionHook: grace_s', grace_s, 0.,
                                    low_open=True)
        self.noticed: Optional[str] = None
        self._noticed_at = 0.
        self._previous = {}
        self._watchdog: Optional[threading.Timer] = None

    def _notice(self, signum: int, frame) -> None:
        name = signal.Signals(signum).name
        now = time.monotonic()
        if self.noticed is None:
            self.noticed, self._noticed_at = name, now
            print_log(f'{name} received: saving a checkpoint at the end of '
                      'this iteration, then stopping (send it again to stop '
                      'at once)', logger='current', level=30)
            self._watchdog = threading.Timer(self.grace_s, self._give_up)
            self._watchdog.daemon = True
            self._watchdog.start()
        elif now - self._noticed_at > self.repeat_s:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _give_up(self) -> None:
        print_log(f'{self.noticed}: no iteration ended within '
                  f'{self.grace_s:g} s; stopping without a new checkpoint',
                  logger='current', level=40)
        os._exit(1)

    def before_train(self, runner) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set in the main thread
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._notice)

    def after_train(self, runner) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        stop = torch.tensor([self.noticed is not None], dtype=torch.int32)
        if is_distributed():
            all_reduce(stop, op='max')
        if not stop.item():
            return
        path = self._save(runner)
        if self._watchdog is not None:
            self._watchdog.cancel()
        message = (f'preempted ({self.noticed or "a notice on another rank"}'
                   f') after iteration {runner.iter + 1}: {path} written; '
                   'continue with tools/train.py CONFIG --resume')
        print_log(message, logger='current', level=30)
        raise TrainingPreempted(message)

    def _save(self, runner) -> str:
        """Write ``iter_N.pth`` unless the checkpoint hook just did."""
        hooks = [h for h in runner.hooks if isinstance(h, CheckpointHook)]
        out_dir = getattr(hooks[0], 'out_dir', None) if hooks else None
        out_dir = out_dir or runner.work_dir
        filename = f'iter_{runner.iter + 1}.pth'
        path = osp.join(out_dir, filename)
        if runner.message_hub.get_info('last_ckpt') == path:
            return path
        with atomic_runner_saves(runner):
            runner.save_checkpoint(out_dir, filename, by_epoch=False,
                                   save_optimizer=True,
                                   save_param_scheduler=True)
        if get_rank() == 0 and '://' not in str(out_dir):
            marker = osp.join(runner.work_dir, 'last_checkpoint')

            def write(tmp):
                with open(tmp, 'w') as f:
                    f.write(path)

            write_atomic(marker, write, overwrite=True)
            runner.message_hub.update_info('last_ckpt', path)
        return path


__all__ = ['PreemptionHook', 'TrainingPreempted', 'protect_loader_workers',
           'notice_proof_worker_init']

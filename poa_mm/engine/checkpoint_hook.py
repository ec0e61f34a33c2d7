"""A ``CheckpointHook`` that never leaves a partial checkpoint behind."""
import os
import os.path as osp
import shutil
from contextlib import contextmanager

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from ..fileio import PARTIAL_PREFIX, write_atomic
from ..utils import SettingError

SAVE_ERROR_POLICIES = ('stop', 'continue')


class CheckpointWriteError(OSError):
    """A checkpoint that could not be written (a full disk, a file size
    limit, a read-only folder); the earlier checkpoints are intact."""

    def __init__(self, path: str, cause: Exception, needed: int = 0):
        reason = getattr(cause, 'strerror', None) or \
            str(cause).strip().splitlines()[-1]
        try:
            free = shutil.disk_usage(osp.dirname(path)).free
            need = f'needs about {needed / 2**20:.0f} MiB, ' if needed else ''
            reason += f'; {need}{free / 2**20:.0f} MiB free on its disk'
        except OSError:
            pass
        super().__init__(f'could not write the checkpoint {path} ({reason})')


def _size_needed(folder: str, partial: str) -> int:
    """What a checkpoint takes on disk: the newest one in ``folder``, else
    at least what the failed save had written (``partial``)."""
    sizes = [osp.getsize(partial)] if osp.exists(partial) else []
    done = [osp.join(folder, f) for f in os.listdir(folder)
            if f.endswith('.pth') and not f.startswith(PARTIAL_PREFIX)
            ] if osp.isdir(folder) else []
    if done:
        sizes.append(osp.getsize(max(done, key=osp.getmtime)))
    return max(sizes, default=0)


@contextmanager
def atomic_runner_saves(runner):
    """Make ``runner.save_checkpoint`` write a temporary file next to the
    checkpoint and rename it into place (local folders on the main process;
    elsewhere the runner's own save)."""
    save = runner.save_checkpoint
    patched = 'save_checkpoint' in vars(runner)

    def atomic_save(out_dir, filename, *args, **kwargs):
        if '://' in str(out_dir) or not is_main_process():
            return save(out_dir, filename, *args, **kwargs)
        path = osp.join(out_dir, filename)
        needed = [0]

        def write(tmp):
            try:
                save(out_dir, osp.basename(tmp), *args, **kwargs)
            except BaseException:
                needed[0] = _size_needed(out_dir, tmp)
                raise

        try:
            write_atomic(path, write, overwrite=True)
        except (OSError, RuntimeError) as e:  # torch's writer: RuntimeError
            raise CheckpointWriteError(path, e, needed[0]) from e

    runner.save_checkpoint = atomic_save
    try:
        yield
    finally:
        if patched:
            runner.save_checkpoint = save
        else:
            del runner.save_checkpoint  # back to the class's method


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with two guarantees for long runs.

    - A kill during a save leaves the previous ``iter_N.pth`` files and
      ``last_checkpoint`` as they were: the new file is written under a
      temporary name and renamed into place.
    - ``max_keep_ckpts`` removes the oldest checkpoint only after the new one
      is complete (MMEngine removes it first), so a failed save never leaves
      fewer good checkpoints than asked for.

    - Temporary files that a SIGKILL (which runs no clean-up) left behind
      (``.partial-*``) are removed when training starts: one work dir has
      one writer at a time (``tools/train.py`` locks it).

    - A save that fails (a full disk: the line names the path, the size
      needed and the space free) stops the run with the earlier checkpoints
      intact, or with ``on_save_error='continue'`` logs that line and
      trains on, saving again at the next interval.

    Args:
        on_save_error (str): ``'stop'`` or ``'continue'``. Defaults to
            ``'stop'``.
        **kwargs: :class:`mmengine.hooks.CheckpointHook`'s arguments.
    """

    def __init__(self, on_save_error: str = 'stop', **kwargs):
        if on_save_error not in SAVE_ERROR_POLICIES:
            raise SettingError(
                'AtomicCheckpointHook: on_save_error must be one of '
                f'{SAVE_ERROR_POLICIES}, got {on_save_error!r}')
        super().__init__(**kwargs)
        self.on_save_error = on_save_error

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not is_main_process() or '://' in str(self.out_dir) or \
                not osp.isdir(self.out_dir):
            return
        stale = sorted(f for f in os.listdir(self.out_dir)
                       if f.startswith(PARTIAL_PREFIX))
        for name in stale:
            os.remove(osp.join(self.out_dir, name))
        if stale:
            print_log(f'AtomicCheckpointHook: removed {len(stale)} partial '
                      f'file(s) of an interrupted save: {", ".join(stale)}',
                      logger='current')

    def _save_checkpoint_with_step(self, runner, step, meta):
        expired = None
        if self.max_keep_ckpts > 0 and (not self.keep_ckpt_ids
                                        or self.keep_ckpt_ids[-1] != step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                expired = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        keep, self.max_keep_ckpts = self.max_keep_ckpts, -1
        try:
            with atomic_runner_saves(runner):
                super()._save_checkpoint_with_step(runner, step, meta)
        except CheckpointWriteError as e:
            if self.on_save_error == 'stop':
                raise
            if keep > 0 and self.keep_ckpt_ids and \
                    self.keep_ckpt_ids[-1] == step:
                self.keep_ckpt_ids.pop()
                if expired is not None:
                    self.keep_ckpt_ids.appendleft(expired)
                runner.message_hub.update_info('keep_ckpt_ids',
                                               list(self.keep_ckpt_ids))
            print_log(f'{e}; training goes on without it '
                      "(on_save_error='continue')", logger='current',
                      level=40)
            return
        finally:
            self.max_keep_ckpts = keep
        if expired is not None and is_main_process():
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(expired))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

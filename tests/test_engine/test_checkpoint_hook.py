"""AtomicCheckpointHook in a real Runner: a save that dies half-way leaves
no partial file and keeps every earlier checkpoint."""
import os

import pytest
import torch
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from poa_mm.fileio import load_checkpoint
from poa_mm.engine import AtomicCheckpointHook  # noqa: F401 (registers)


class _Regression(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return out


class _DiesInSave(Hook):
    """Kills the save of ``iteration`` half-way through writing the file, as
    a SIGKILL or a full disk would."""

    def __init__(self, iteration):
        self.iteration = iteration

    def before_save_checkpoint(self, runner, checkpoint):
        if runner.iter + 1 != self.iteration:
            return
        put = LocalBackend.put

        def half_put(backend, obj, filepath):
            LocalBackend.put = put
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise KeyboardInterrupt('killed during the save')

        LocalBackend.put = half_put


def _train(work_dir, hook_type, max_keep, die_at=None):
    data = [dict(inputs=torch.randn(4), targets=torch.randn(1))
            for _ in range(8)]
    runner = Runner(
        model=_Regression(),
        work_dir=str(work_dir),
        train_dataloader=DataLoader(data, batch_size=2),
        train_cfg=dict(by_epoch=False, max_iters=6),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(
            type=hook_type, interval=2, by_epoch=False,
            max_keep_ckpts=max_keep)),
        custom_hooks=[_DiesInSave(die_at)] if die_at else [],
        default_scope='mmpretrain',
        # Its own MessageHub (runners named by the same second share one).
        experiment_name=f'ckpt-{hook_type}-{max_keep}-{die_at}-{id(data)}')
    try:
        runner.train()
    except KeyboardInterrupt:
        pass
    return sorted(os.listdir(work_dir))


@pytest.mark.parametrize('max_keep', [-1, 2])
def test_a_killed_save_leaves_no_partial_file(tmp_path, max_keep):
    files = _train(tmp_path, 'AtomicCheckpointHook', max_keep, die_at=4)
    assert 'iter_2.pth' in files and 'iter_4.pth' not in files
    assert not [f for f in files if f.startswith('.partial-')]
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read().endswith('iter_2.pth')
    load_checkpoint(str(tmp_path / 'iter_2.pth'))  # complete and loadable


def test_mmengine_hook_truncates_and_loses_the_oldest(tmp_path):
    """What the atomic hook guards against, shown on the stock hook."""
    files = _train(tmp_path, 'CheckpointHook', 1, die_at=4)
    assert 'iter_2.pth' not in files  # rotated out before the save
    with pytest.raises(ValueError):
        load_checkpoint(str(tmp_path / 'iter_4.pth'))  # truncated


def test_rotation_keeps_the_newest(tmp_path):
    files = _train(tmp_path, 'AtomicCheckpointHook', 2)
    assert [f for f in files if f.endswith('.pth')] == [
        'iter_4.pth', 'iter_6.pth']
    assert load_checkpoint(str(tmp_path / 'iter_6.pth'))['message_hub'][
        'runtime_info']['keep_ckpt_ids'] == [4, 6]


def test_partial_files_of_a_killed_run_are_removed_at_the_next_start(
        tmp_path):
    """SIGKILL runs no clean-up: the next run in the work dir removes the
    0-byte temporary file the killed save left."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / '.partial-abc123.pth').write_bytes(b'')
    files = _train(tmp_path, 'AtomicCheckpointHook', -1)
    assert not [f for f in files if f.startswith('.partial-')]
    assert 'iter_6.pth' in files

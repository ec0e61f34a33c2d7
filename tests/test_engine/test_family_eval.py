"""FamilyKNNHook in a real (tiny) Runner loop."""
import glob
import json

import pytest
from mmengine.runner import Runner

from poa_test_helpers.configs import micro_runner_cfg


def tiny_cfg(repo_root, data_root, work_dir, hook):
    cfg = micro_runner_cfg(repo_root, data_root, work_dir,
                           model=dict(backbone=dict(drop_path_rate=0.)))
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'FamilyKNNHook'] + [hook]
    return cfg


def test_hook_logs_every_size_and_warns_on_a_drop(repo_root, fashion_mnist,
                                                  tmp_path):
    hook = dict(type='FamilyKNNHook', interval=1,
                train_dir=f'{fashion_mnist}/train',
                val_dir=f'{fashion_mnist}/test', subnets=['min', 'max'])
    runner = Runner.from_cfg(tiny_cfg(repo_root, fashion_mnist,
                                      tmp_path / 'w', hook))
    (family, ) = [h for h in runner.hooks
                  if type(h).__name__ == 'FamilyKNNHook']
    family.best = {'64x2': 101., '128x4': 101.}  # any score is a big drop
    runner.train()
    log = open(glob.glob(str(tmp_path / 'w' / '*' / '*.log'))[0]).read()
    assert 'FamilyKNNHook (iteration 1, k=20): 64x2' in log
    assert log.count('points below its best') == 4  # 2 sizes x 2 evals
    (scalars, ) = glob.glob(str(tmp_path / 'w' / '*' / 'vis_data' /
                                'scalars.json'))
    logged = [json.loads(line) for line in open(scalars)]
    curves = [r for r in logged if 'knn/64x2' in r]
    assert [r['step'] for r in curves] == [1, 2]
    assert all(0 <= r['knn/128x4'] <= 100 for r in curves)
    # the bests go into checkpoints
    import torch
    ckpt = torch.load(tmp_path / 'w' / 'iter_2.pth', weights_only=False)
    assert ckpt['family_knn_best'] == {'64x2': 101., '128x4': 101.}


def test_missing_folders_are_an_error_unless_skipped(repo_root,
                                                     fashion_mnist,
                                                     tmp_path):
    hook = dict(type='FamilyKNNHook', interval=1, train_dir='no/such/dir',
                val_dir='no/such/dir')
    runner = Runner.from_cfg(tiny_cfg(repo_root, fashion_mnist,
                                      tmp_path / 'a', hook))
    with pytest.raises(FileNotFoundError, match='no/such/dir'):
        runner.train()
    runner = Runner.from_cfg(tiny_cfg(repo_root, fashion_mnist,
                                      tmp_path / 'b',
                                      dict(hook, skip_missing=True)))
    runner.train()  # trains without the family evaluation
    assert (tmp_path / 'b' / 'iter_2.pth').exists()

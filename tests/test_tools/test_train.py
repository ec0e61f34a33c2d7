"""tools/train.py and tools/dist_train.sh on the tiny POA config, CPU."""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow  # subprocess runs of the tools

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'


def write_config(tmp_path, repo_root, data_root, max_iters, record_dir,
                 extra=''):
    """A small real config on top of the tiny Fashion-MNIST recipe."""
    path = tmp_path / f'cfg_{max_iters}_{osp.basename(record_dir)}.py'
    path.write_text(f'''
_base_ = [{osp.join(repo_root, CONFIG)!r}]
custom_imports = dict(
    imports=['poa_mm', 'poa_test_helpers.record_hook'],
    allow_failed_imports=False)
max_iters = {max_iters}
model = dict(
    backbone=dict(arch='micro', drop_path_rate=0.0),
    head=dict(in_channels=128, num_prototypes=(64, 128),
              hidden_channels=64, bottleneck_channels=32))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={data_root!r}))
train_cfg = dict(max_iters=max_iters)
custom_hooks = [
    dict(type='POAScheduleHook',
         lr_scaling=dict(base_lr=1e-3, ref_batch=4, rule='sqrt'),
         warmup_iters=1, freeze_last_layer_iters=1, ibot_start_iter=2,
         teacher_temp_warmup_iters=2),
    dict(type='ElasticSamplingHook'),
    dict(type='RankRecorderHook', out_dir={str(record_dir)!r}),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False))
log_processor = dict(window_size=1)
{extra}
''')
    return str(path)


def run(cmd, repo_root, **env):
    full_env = dict(os.environ, OMP_NUM_THREADS='1', **env)
    full_env['PYTHONPATH'] = f'{repo_root}:{repo_root}/tests'
    proc = subprocess.run(cmd, cwd=repo_root, env=full_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def records(folder, rank=0):
    with open(osp.join(folder, f'rank{rank}.json')) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, repo_root, fashion_mnist):
    tmp = tmp_path_factory.mktemp('train')
    cfg = write_config(tmp, repo_root, fashion_mnist, 6, tmp / 'rec')
    run([sys.executable, 'tools/train.py', cfg, '--work-dir',
         str(tmp / 'work')], repo_root)
    return tmp


def test_train_writes_a_poa_checkpoint(uninterrupted):
    work = uninterrupted / 'work'
    ckpt_path = work / 'iter_6.pth'
    assert ckpt_path.exists() and (work / 'iter_3.pth').exists()
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 6
    state = ckpt['state_dict']
    assert any(k.startswith('teacher.backbone.layers.') for k in state)
    assert any(k.startswith('backbone.layers.') for k in state)
    sampler = ckpt['elastic_sampler']
    assert sampler['world_size'] == 1 and sampler['draws'] == 6
    recs = records(uninterrupted / 'rec')
    assert [r['iter'] for r in recs] == list(range(6))
    assert all(r['subnet'] != '128x4' for r in recs)  # never the intact
    assert recs[0]['loss_ibot'] == 0 and recs[-1]['loss_ibot'] > 0
    assert recs[0]['peak_lr'] == pytest.approx(1e-3, rel=1e-9)  # 1 x 4
    # The logged lr is the one the step used: 0 during the 1-step warm-up.
    (scalars, ) = glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as f:
        logged = [json.loads(line) for line in f]
    first = next(r for r in logged if r.get('iter') == 1)
    assert first['base_lr'] == 0 and first['lr'] == 0
    # the teacher moved away from the student (EMA, not a copy)
    assert not torch.equal(state['teacher.backbone.pos_embed'],
                           state['backbone.pos_embed'])


def test_resume_reproduces_the_uninterrupted_run(uninterrupted, repo_root,
                                                 fashion_mnist, tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    shutil.copy(uninterrupted / 'work' / 'iter_3.pth', work / 'iter_3.pth')
    cfg = write_config(tmp_path, repo_root, fashion_mnist, 6,
                       tmp_path / 'rec')
    run([sys.executable, 'tools/train.py', cfg, '--work-dir', str(work),
         '--resume', str(work / 'iter_3.pth')], repo_root)
    full = records(uninterrupted / 'rec')[3:]
    resumed = records(tmp_path / 'rec')
    assert [r['iter'] for r in resumed] == [3, 4, 5]
    assert [r['subnet'] for r in resumed] == [r['subnet'] for r in full]
    for a, b in zip(full, resumed):
        for key in ('loss_dino', 'loss_same_view', 'loss_ibot',
                    'loss_koleo'):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key


def test_dist_train_two_cpu_ranks(repo_root, fashion_mnist, tmp_path):
    cfg = write_config(tmp_path, repo_root, fashion_mnist, 4,
                       tmp_path / 'rec')
    port = str(29500 + os.getpid() % 1000)
    run([
        'bash', 'tools/dist_train.sh', cfg, '2', '--work-dir',
        str(tmp_path / 'work')
    ], repo_root, MASTER_PORT=port, PYTHON=sys.executable)
    r0, r1 = records(tmp_path / 'rec', 0), records(tmp_path / 'rec', 1)
    assert [r['iter'] for r in r0] == [r['iter'] for r in r1] == [0, 1, 2, 3]
    assert [r['subnet'] for r in r0] != [r['subnet'] for r in r1]
    for r in r0 + r1:
        assert all(v == v and abs(v) < 1e4 for k, v in r.items()
                   if k.startswith('loss'))  # finite, not diverging
    assert glob.glob(str(tmp_path / 'work' / 'iter_3.pth'))
    # The peak lr follows the real global batch: 2 x 4 images, sqrt rule.
    assert r0[0]['peak_lr'] == pytest.approx(1e-3 * 2**0.5, rel=1e-9)


def test_amp_on_cpu_keeps_the_poa_wrapper(repo_root, fashion_mnist,
                                          tmp_path):
    cfg = write_config(tmp_path, repo_root, fashion_mnist, 2,
                       tmp_path / 'rec')
    proc = run([sys.executable, 'tools/train.py', cfg, '--amp',
                '--work-dir', str(tmp_path / 'work')], repo_root)
    # --amp switched the POA wrapper to bf16 autocast (kept its clipping).
    (dumped, ) = glob.glob(str(tmp_path / 'work' / 'cfg_*.py'))
    text = open(dumped).read()
    assert "type='POAOptimWrapper'" in text and "dtype='bfloat16'" in text
    assert 'grad_norm_backbone' in proc.stdout + proc.stderr
    recs = records(tmp_path / 'rec')
    assert [r['iter'] for r in recs] == [0, 1]
    assert all(v == v for r in recs for k, v in r.items()
               if k.startswith('loss'))


def test_a_nan_run_stops_with_its_last_good_checkpoint(repo_root,
                                                       fashion_mnist,
                                                       tmp_path):
    extra = '''
custom_imports = dict(
    imports=['poa_mm', 'poa_test_helpers.record_hook',
             'poa_test_helpers.nan_hook'],
    allow_failed_imports=False)
custom_hooks = custom_hooks + [dict(type='PoisonWeightsHook', at_iter=3)]
optim_wrapper = dict(max_nonfinite_steps=3)
'''
    cfg = write_config(tmp_path, repo_root, fashion_mnist, 9,
                       tmp_path / 'rec', extra)
    work = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=f'{repo_root}:{repo_root}/tests')
    proc = subprocess.run([sys.executable, 'tools/train.py', cfg,
                           '--work-dir', str(work)], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: the loss was not finite for 3 steps in '
                           'a row (last at iteration 6)'), last
    assert last.endswith('iter_3.pth')
    # Iterations 4-6 were skipped (logged) and nothing was saved after them.
    assert 'skipped_steps' in proc.stdout + proc.stderr
    assert (work / 'iter_3.pth').exists()
    assert not (work / 'iter_6.pth').exists()


def test_elastified_vit_starts_a_run_with_load_from(repo_root, fashion_mnist,
                                                     tmp_path):
    from mmpretrain.registry import MODELS

    import poa_mm  # noqa: F401
    src = MODELS.build(dict(
        type='mmpretrain.VisionTransformer',
        arch=dict(embed_dims=128, num_layers=4, num_heads=4,
                  feedforward_channels=512),
        img_size=28, patch_size=4, layer_scale_init_value=1.0,
        norm_cfg=dict(type='LN', eps=1e-6)))
    torch.save(src.state_dict(), tmp_path / 'vit.pth')
    cfg = write_config(tmp_path, repo_root, fashion_mnist, 2,
                       tmp_path / 'rec')
    init = tmp_path / 'init.pth'
    run([sys.executable, 'tools/elastify.py', str(tmp_path / 'vit.pth'),
         '--format', 'mmpretrain', '--config', cfg, '--out', str(init),
         '--data', osp.join(fashion_mnist, 'train'), '--batches', '1'],
        repo_root)
    proc = run([sys.executable, 'tools/train.py', cfg, '--work-dir',
                str(tmp_path / 'work'), '--cfg-options',
                f'load_from={init}'], repo_root)
    assert 'Load checkpoint from' in proc.stdout + proc.stderr
    assert [r['iter'] for r in records(tmp_path / 'rec')] == [0, 1]

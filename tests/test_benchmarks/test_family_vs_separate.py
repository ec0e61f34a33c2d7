"""benchmarks/family_vs_separate.py end to end at a small size on the CPU,
with the GPU demo's config (epoch-based, the recipe scaled by batch): one
POA run and the two architectures trained alone, each evaluated."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_one_poa_run_against_the_sizes_trained_alone(repo_root,
                                                     fashion_mnist,
                                                     tmp_path):
    out = tmp_path / 'result.json'
    proc = subprocess.run(
        [sys.executable, 'benchmarks/family_vs_separate.py', '--device',
         'cpu', '--config',
         'configs/poa/poa_vit-tiny_1xb256-3e_fashion-mnist.py',
         '--train-dir', f'{fashion_mnist}/train', '--val-dir',
         f'{fashion_mnist}/test', '--work-dir', str(tmp_path / 'work'),
         '--out', str(out), '--cfg-options',
         f'train_dataloader.dataset.data_root={fashion_mnist}',
         'train_dataloader.batch_size=20', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'train_cfg.max_epochs=1'],
        cwd=repo_root, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='2'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result['device'] == 'cpu' and result['commit']
    assert set(result['results']) == {'poa', 'smallest', 'intact'}
    assert set(result['results']['poa']) == {'64x3', '192x6'}
    assert set(result['results']['smallest']) == {'64x3'}
    assert set(result['results']['intact']) == {'192x6'}
    for rows in result['results'].values():
        for row in rows.values():
            assert 0 < row['k20'] <= 100 and 0 < row['linear'] <= 100
    assert len(result['table']) == 6 and '| 64x3 | two-branch' in \
        result['table'][3]
    # The two-branch runs are the same recipe without the elastic branch.
    for name in ('smallest', 'intact'):
        text = (tmp_path / 'work' / f'{name}.py').read_text()
        assert 'use_elastic=False' in text
        assert 'ElasticSamplingHook' not in text
        assert 'warmup_epochs' in text
        assert (tmp_path / 'work' / name / 'epoch_1.pth').exists()

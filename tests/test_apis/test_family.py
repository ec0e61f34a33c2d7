import pytest

from poa_mm.apis.family import pareto_front, subnet_family


@pytest.mark.parametrize('cfg, count, named', [
    (dict(type='ElasticViT', arch='large'), 143,
     {'384x12': 21.7, '768x12': 85.8, '1024x24': 303.3}),
    (dict(type='ElasticSwin', arch='base'), 39,
     {'96x6': 27.5, '128x18': 86.7}),
    (dict(type='ElasticResNet', arch='paper'), 465,
     {'64-4-6': 23.5, '64-4-23': 42.5, '64-8-36': 58.1}),
])
def test_paper_families_and_standard_model_sizes(cfg, count, named):
    rows = subnet_family(cfg)
    assert len(rows) == count
    by_spec = {r['subnet']: r['params_m'] for r in rows}
    for spec, params in named.items():
        assert by_spec[spec] == pytest.approx(params, rel=0.01), spec


def test_knn_columns_and_pareto_front():
    rows = subnet_family(
        dict(type='ElasticViT', arch='micro'),
        [dict(subnet='64x2', k20=50.), dict(subnet='96x3', k20=49.),
         dict(subnet='128x4', k20=60.)])
    assert [r.get('k20') for r in rows if 'k20' in r] == [50., 49., 60.]
    assert [r['subnet'] for r in pareto_front(rows, 'k20')] == [
        '64x2', '128x4'
    ]


@pytest.mark.slow
def test_list_subnets_tool_with_flops_latency_and_plot(repo_root, tmp_path):
    import json
    import os
    import subprocess
    import sys
    knn = tmp_path / 'knn.json'
    knn.write_text(json.dumps([dict(subnet='64x3', k20=50.),
                               dict(subnet='192x6', k20=60.)]))
    cfg = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'
    proc = subprocess.run(
        [sys.executable, 'tools/list_subnets.py', cfg, '--input-size', '56',
         '--knn', str(knn), '--latency', '--measure', '3', '--x', 'latency',
         '--out-dir', str(tmp_path / 'out')], cwd=repo_root,
        env=dict(os.environ, PYTHONPATH=repo_root), capture_output=True,
        text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'fit error on held-out measured sub-networks' in proc.stdout
    rows = json.loads((tmp_path / 'out' / 'family.json').read_text())
    assert len(rows) == 20 and all('gflops' in r for r in rows)
    assert sum(not r['latency_predicted'] for r in rows) == 3
    assert (tmp_path / 'out' / 'pareto.png').exists()
    assert (tmp_path / 'out' / 'latency.json').exists()
    proc = subprocess.run(
        [sys.executable, 'tools/list_subnets.py', cfg, '--input-size', '1',
         '2', '3'], cwd=repo_root, env=dict(os.environ, PYTHONPATH=repo_root),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and '--input-size takes' in proc.stderr

"""The one-shot GPU benchmark's CPU smoke mode: every part runs, the JSON
holds what the README table is made of, and the FLOP accounting follows
the step's structure."""
import json

import pytest
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_test_helpers.scripts import load_script


def _load_benchmark():
    return load_script('benchmarks/gpu_step.py')


@pytest.mark.slow
def test_smoke_run_writes_every_part(tmp_path):
    gpu_step = _load_benchmark()
    out = tmp_path / 'gpu_step.json'
    gpu_step.main(['--smoke', '--out', str(out)])
    result = json.loads(out.read_text())
    steps = result['steps']['micro']
    assert set(steps) == set(gpu_step.MODES)
    for mode in gpu_step.MODES:
        assert steps[mode]['seconds'] > 0 and steps[mode]['img_per_s'] > 0
        assert steps[mode]['tflop_per_s'] > 0
    # POA adds the elastic student's forward and backward, nothing else.
    assert 1 < result['flop_bound']['micro'] < 2
    # The elastic attention reaches SDPA's fused (flash) kernel.
    assert any('flash' in name for name in result['attention_kernels'])
    assert len(result['elastic_overhead']) == 3
    assert result['gemm_flop_per_s'] > 0


def test_step_flops_counts_teacher_and_students():
    gpu_step = _load_benchmark()
    args = gpu_step.parse_args(['--smoke'])
    args.batch_size = 2
    backbone = MODELS.build(dict(type='ElasticViT', arch='micro'))
    space = backbone.search_space
    small = space.sampling[0]
    two_branch = gpu_step.step_flops(backbone, args, small, elastic=False)
    poa = gpu_step.step_flops(backbone, args, small, elastic=True)

    def views(spec):
        return (2 * backbone.flops(spec, 28) +
                args.local_crops * backbone.flops(spec, 12))

    b = args.batch_size
    teacher = 2 * b * 2 * backbone.flops(space.intact, 28)  # globals only
    assert two_branch == teacher + 2 * b * 3 * views(space.intact)
    assert poa - two_branch == 2 * b * 3 * views(small)


def test_subnet_sequence_puts_the_largest_first():
    gpu_step = _load_benchmark()
    space = MODELS.build(dict(type='ElasticViT', arch='tiny')).search_space
    sequence = gpu_step.subnet_sequence(space, 8)
    assert len(sequence) == 8
    assert sequence[0] == max(space.elastic_multiset,
                              key=lambda s: (s.width, sum(s.depths)))
    assert all(s in space.elastic_multiset for s in sequence)
    assert sequence == gpu_step.subnet_sequence(space, 8)  # seeded


def test_refuses_to_run_without_cuda(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('a CUDA device is present')
    gpu_step = _load_benchmark()
    with pytest.raises(SystemExit, match='no CUDA device'):
        gpu_step.main(['--out', str(tmp_path / 'x.json')])

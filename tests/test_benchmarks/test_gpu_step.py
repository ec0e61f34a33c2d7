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


def test_step_flops_match_what_the_real_step_computes():
    """The accounting against PyTorch's FLOP counter on real train steps
    of the micro supernet: the backbones' blocks (teacher and students,
    forward and backward) and the patch embeddings. Attention runs on
    SDPA's math path, which the counter sees; norms are not counted by it
    (1-3 % of the formula here)."""
    import re

    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    gpu_step = _load_benchmark()
    args = gpu_step.parse_args(['--smoke'])
    args.batch_size = 2
    device = torch.device('cpu')
    data = gpu_step.fake_views(args, device)
    blocks = re.compile(r'POA\.(teacher\.)?backbone\.layers\.\d+$')

    def counted(mode, subnet):
        model, wrapper = gpu_step.build_poa(args, 'micro', mode, device)
        model.elastic_subnet = subnet
        with FlopCounterMode(display=False) as counter, \
                sdpa_kernel(SDPBackend.MATH):
            model.train_step(data, wrapper)
        counts = counter.get_flop_counts()
        convs = sum(v for k, v in counts['Global'].items()
                    if k.__name__.startswith('convolution'))
        return convs + sum(sum(ops.values()) for name, ops in counts.items()
                           if blocks.match(name)), model.backbone

    space = MODELS.build(dict(type='ElasticViT', arch='micro')).search_space
    small = min(space.elastic_multiset, key=lambda s: (s.width, s.depth))
    two_branch, backbone = counted('two-branch', small)
    poa, _ = counted('poa', small)
    assert gpu_step.step_flops(backbone, args, small, elastic=False) == \
        pytest.approx(two_branch, rel=0.03)
    # The elastic student's share: its forward and backward on every crop.
    expected = gpu_step.step_flops(backbone, args, small, elastic=True) - \
        gpu_step.step_flops(backbone, args, small, elastic=False)
    assert expected == pytest.approx(poa - two_branch, rel=0.03)


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

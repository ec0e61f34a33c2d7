"""The POA step on CUDA: bf16 training moves the teacher with finite
losses, split backward equals the joint step in fp32, and the GPU benchmark
runs end to end on a small supernet."""
import json

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.registry import OPTIM_WRAPPERS

import poa_mm  # noqa: F401
from poa_mm.elastic import SubnetSpec
from poa_test_helpers.configs import micro_poa_cfg
from poa_test_helpers.crops import random_crops
from poa_test_helpers.scripts import load_script
from poa_test_helpers.split_ranks import build, sgd_step

pytestmark = pytest.mark.cuda
CFG = micro_poa_cfg()


def test_bf16_step_is_finite_and_moves_the_teacher():
    model = build(CFG, True, SubnetSpec(64, (2, ))).cuda()
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='POAOptimWrapper', dtype='bfloat16',
        optimizer=torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1e-3)))
    MessageHub.get_current_instance().update_info('iter', 0)
    teacher = {n: p.clone() for n, p in model.teacher.named_parameters()}
    for _ in range(2):
        log = model.train_step(random_crops(), wrapper)
        model.update_teacher(0.9)
    assert all(torch.isfinite(v).all() for v in log.values()), log
    assert not wrapper.step_skipped
    moved = [n for n, p in model.teacher.named_parameters()
             if not torch.equal(p, teacher[n])]
    assert len(moved) > len(teacher) // 2


def test_split_backward_equals_the_joint_step_in_fp32(exact_cuda):
    spec = SubnetSpec(64, (2, ))
    updates = []
    for split in (False, True):
        model = build(CFG, split, spec).to(exact_cuda)
        updates.append(sgd_step(model, model, random_crops()))
    joint, split = updates
    assert joint.keys() == split.keys()
    for name, a in joint.items():
        scale = max(float(a.abs().max()), 1.)
        assert (a - split[name]).abs().max() <= 1e-5 * scale, name
    assert joint['backbone.layers.1.ffn.layers.1.weight'].abs().max() > 0


def test_gpu_step_benchmark_on_a_small_supernet(tmp_path):
    gpu_step = load_script('benchmarks/gpu_step.py')
    out = tmp_path / 'gpu_step.json'
    gpu_step.main(['--archs', 'micro', '--batch-size', '4', '--global-size',
                   '28', '--local-size', '12', '--local-crops', '2',
                   '--prototypes', '64', '128', '--steps', '2', '--warmup',
                   '1', '--overhead-batch', '4', '--gemm-size', '512',
                   '--out', str(out)])
    result = json.loads(out.read_text())
    steps = result['steps']['micro']
    assert set(steps) == set(gpu_step.MODES)
    for mode in gpu_step.MODES:
        assert steps[mode]['seconds'] > 0 and steps[mode]['peak_bytes'] > 0
    assert result['device'] == torch.cuda.get_device_name()
    assert len(result['elastic_overhead']) == 3

"""The evaluation on CUDA: FamilyKNNHook inside a real Runner run (the
first GPU run crashed at its first evaluation: CPU labels indexed with CUDA
indices), k-NN and linear probe against the CPU result."""
import glob

import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.evaluation.knn import evaluate_subnets, folder_pair_loaders
from poa_mm.evaluation.linear_probe import linear_probe
from poa_test_helpers.configs import micro_poa_cfg, micro_runner_cfg

pytestmark = pytest.mark.cuda


def micro_poa():
    torch.manual_seed(0)
    model = MODELS.build(micro_poa_cfg(
        head=dict(type='MultiProjectionHead', in_channels=128,
                  num_prototypes=(64, ), hidden_channels=32,
                  bottleneck_channels=16),
        data_preprocessor=dict(type='POADataPreprocessor', mean=[73.] * 3,
                               std=[90.] * 3, mask_grid=(7, 7))))
    model.init_weights()
    return model.eval()


def test_runner_with_family_knn_hook_trains_in_bf16_on_cuda(
        repo_root, fashion_mnist, tmp_path):
    cfg = micro_runner_cfg(repo_root, fashion_mnist, tmp_path, max_iters=4,
                           batch_size=8,
                           optim_wrapper=dict(dtype='bfloat16'))
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'FamilyKNNHook'] + [
        dict(type='FamilyKNNHook', interval=2,
             train_dir=f'{fashion_mnist}/train',
             val_dir=f'{fashion_mnist}/test', subnets=['min', 'max'])]
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert next(runner.model.parameters()).device.type == 'cuda'
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    assert log.count('FamilyKNNHook (iteration') == 2, log[-2000:]
    assert (tmp_path / 'iter_4.pth').exists()


@pytest.mark.parametrize('dtype, points', [(None, 1.), (torch.bfloat16, 5.)])
def test_knn_on_cuda_matches_the_cpu(fashion_mnist, exact_cuda, dtype,
                                     points):
    loaders = folder_pair_loaders(f'{fashion_mnist}/train',
                                  f'{fashion_mnist}/test')
    model = micro_poa()
    specs = model.backbone.search_space.select(['min', 'max'])
    cpu = evaluate_subnets(model, specs, *loaders, ks=(10, 20))
    gpu = evaluate_subnets(model.to(exact_cuda), specs, *loaders, ks=(10, 20),
                           dtype=dtype)
    for c, g in zip(cpu, gpu):
        for k in ('k10', 'k20'):  # 100 queries: one image is one point
            assert abs(c[k] - g[k]) <= points, (c, g)


def test_linear_probe_on_cuda_matches_the_cpu(fashion_mnist, exact_cuda):
    loaders = folder_pair_loaders(f'{fashion_mnist}/train',
                                  f'{fashion_mnist}/test')
    model = micro_poa()
    specs = model.backbone.search_space.select(['min'])
    kwargs = dict(lrs=(1e-2, 1e-1), epochs=5)
    cpu = linear_probe(model, specs, *loaders, **kwargs)
    gpu = linear_probe(model.to(exact_cuda), specs, *loaders, **kwargs)
    assert (cpu[0]['lr'], cpu[0]['variant']) == (gpu[0]['lr'],
                                                gpu[0]['variant'])
    assert abs(cpu[0]['linear'] - gpu[0]['linear']) <= 2.

"""POA trains every elastic backbone family: a few CPU iterations."""
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_test_helpers.crops import random_crops

CONFIGS = {
    'vit': 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py',
    'swin': 'configs/poa/poa_swin-tiny_1xb32-500i_fashion-mnist.py',
    'resnet': 'configs/poa/poa_resnet-tiny_1xb32-500i_fashion-mnist.py',
}


@pytest.mark.parametrize('family', sorted(CONFIGS))
def test_a_few_iterations_give_finite_losses_and_gradients(family,
                                                           repo_root):
    cfg = Config.fromfile(f'{repo_root}/{CONFIGS[family]}')
    cfg.model.head.num_prototypes = (64, 128)
    cfg.model.head.hidden_channels = 64
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    model.set_schedule(teacher_temp=0.07, ibot_active=True)
    optim = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3)
    multiset = model.backbone.search_space.elastic_multiset
    for it in range(3):
        model.elastic_subnet = multiset[it * 7 % len(multiset)]
        data = model.data_preprocessor(random_crops(seed=it), True)
        losses = model.loss(**data)
        assert all(torch.isfinite(v) for v in losses.values()), losses
        assert losses['loss_ibot'] > 0
        optim.zero_grad()
        sum(losses.values()).backward()
        grads = [p.grad for n, p in model.named_parameters()
                 if n.startswith('backbone.') and p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        assert sum(g.abs().sum() for g in grads) > 0
        optim.step()
        model.update_teacher(0.99)

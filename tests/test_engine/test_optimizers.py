import pytest
import torch
from mmpretrain.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

import poa_mm  # noqa: F401


@pytest.fixture(scope='module')
def wrapper():
    model = MODELS.build(dict(
        type='POA', backbone=dict(type='ElasticViT', arch='micro'),
        head=dict(type='MultiProjectionHead', in_channels=128,
                  num_prototypes=(32, ), hidden_channels=32,
                  bottleneck_channels=16)))
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='POAOptimWrapperConstructor',
        optim_wrapper_cfg=dict(
            type='POAOptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.04)),
        paramwise_cfg=dict(layer_decay_rate=0.9, patch_embed_lr_mult=0.2)))
    return constructor(model)


def groups_by_name(wrapper):
    return {g['param_name']: g for g in wrapper.optimizer.param_groups}


def test_layer_decay_patch_embed_and_no_weight_decay(wrapper):
    g = groups_by_name(wrapper)
    assert not any(n.startswith('teacher.') for n in g)
    # micro ViT: 4 blocks, so decay ** (4 + 1 - layer_id)
    assert g['backbone.layers.0.attn.qkv.weight']['lr_mult'] == \
        pytest.approx(0.9**4)
    assert g['backbone.layers.3.attn.qkv.weight']['lr_mult'] == \
        pytest.approx(0.9)
    assert g['backbone.ln1.weight']['lr_mult'] == 1.
    assert g['backbone.patch_embed.projection.weight']['lr_mult'] == \
        pytest.approx(0.9**5 * 0.2)
    assert g['backbone.cls_token']['lr_mult'] == pytest.approx(0.9**5)
    assert g['head.heads.0.mlp.0.weight']['lr_mult'] == 1.
    assert g['backbone.layers.0.attn.qkv.bias']['wd_mult'] == 0.
    assert g['backbone.layers.0.attn.gamma1.weight']['wd_mult'] == 0.
    assert g['backbone.layers.0.ln1.weight']['wd_mult'] == 0.
    assert g['backbone.layers.0.attn.qkv.weight']['wd_mult'] == 1.
    last = [n for n, x in g.items() if x['last_layer']]
    assert last and all('last_layer' in n for n in last)
    assert {x['clip_group'] for x in g.values()} == {'backbone', 'head'}


def test_per_module_clipping(wrapper):
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            p.grad = torch.full_like(p, 10.)
    wrapper.step()
    for name in ('backbone', 'head'):
        grads = [p.grad for group in wrapper.optimizer.param_groups
                 if group['clip_group'] == name for p in group['params']]
        norm = torch.norm(torch.stack([g.norm() for g in grads]))
        assert norm.item() == pytest.approx(1.5, rel=1e-4)

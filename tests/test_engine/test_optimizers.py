import pytest
import torch
from mmpretrain.registry import (MODELS, OPTIM_WRAPPER_CONSTRUCTORS,
                                 OPTIM_WRAPPERS)

import poa_mm  # noqa: F401


def poa_wrapper(backbone: dict, in_channels: int, **paramwise_cfg):
    model = MODELS.build(dict(
        type='POA', backbone=backbone,
        head=dict(type='MultiProjectionHead', in_channels=in_channels,
                  num_prototypes=(32, ), hidden_channels=32,
                  bottleneck_channels=16)))
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='POAOptimWrapperConstructor',
        optim_wrapper_cfg=dict(
            type='POAOptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.04)),
        paramwise_cfg=paramwise_cfg))
    return constructor(model)


@pytest.fixture(scope='module')
def wrapper():
    return poa_wrapper(dict(type='ElasticViT', arch='micro'), 128,
                       layer_decay_rate=0.9, patch_embed_lr_mult=0.2)


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


def poa_groups(backbone: dict, in_channels: int, decay: float):
    return groups_by_name(poa_wrapper(backbone, in_channels,
                                      layer_decay_rate=decay))


def test_resnet_layer_decay_and_weight_decay_follow_the_official_code():
    # get_resnet_lr_decay_rate: decay ** (n_blocks - layer_id), n_blocks 9
    g = poa_groups(dict(type='ElasticResNet', arch='tiny'), 512, 0.95)
    assert g['backbone.conv1.weight']['lr_mult'] == pytest.approx(0.95**9)
    assert g['backbone.layer1.0.conv1.weight']['lr_mult'] == pytest.approx(
        0.95**8)
    assert g['backbone.layer4.0.conv1.weight']['lr_mult'] == 1.
    # The shortcut GroupNorm weight is decayed there; its bias is not.
    assert g['backbone.layer2.0.downsample.1.weight']['wd_mult'] == 1.
    assert g['backbone.layer2.0.downsample.1.bias']['wd_mult'] == 0.
    assert g['backbone.layer2.0.gn1.weight']['wd_mult'] == 0.


def test_swin_patch_merging_sits_above_its_stage():
    # get_swin_lr_decay_rate: downsample of stage s at sum(depths[:s+1]) + 1
    g = poa_groups(dict(type='ElasticSwin', arch='tiny', img_size=56), 256,
                   0.9)
    n = 12  # depths (2, 2, 6, 2)
    merge = g['backbone.stages.0.downsample.reduction.weight']['lr_mult']
    assert merge == pytest.approx(0.9**(n + 1 - 3))
    last_block = [v['lr_mult'] for k, v in g.items()
                  if k.startswith('backbone.stages.0.blocks.1.')]
    assert last_block[0] == pytest.approx(0.9**(n + 1 - 2))


def test_non_finite_losses_skip_the_step_then_stop():
    from poa_mm.engine import NonFiniteLossError
    param = torch.nn.Parameter(torch.ones(3))
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='POAOptimWrapper', max_nonfinite_steps=3, max_grad_norm=None,
        optimizer=torch.optim.SGD([param], lr=0.1)))
    wrapper.update_params((param * 2).sum())
    assert not wrapper.step_skipped and torch.allclose(param, torch.full(
        (3, ), 0.8))
    for _ in range(2):
        wrapper.update_params((param * float('nan')).sum())
        assert wrapper.step_skipped
        assert torch.allclose(param, torch.full((3, ), 0.8))
        assert param.grad is None or not param.grad.any()
    wrapper.update_params((param * 2).sum())  # a good step resets the count
    assert not wrapper.step_skipped and wrapper.skipped_steps == 2
    for _ in range(2):
        wrapper.update_params((param * float('inf')).sum())
    with pytest.raises(NonFiniteLossError, match='3 steps in a row'):
        wrapper.update_params((param * float('inf')).sum())


def test_bf16_autocast_on_cpu_is_an_explicit_choice():
    model = torch.nn.Linear(4, 4)

    def wrapper(**kwargs):
        return OPTIM_WRAPPERS.build(dict(
            type='POAOptimWrapper', dtype='bfloat16',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), **kwargs))

    default, forced = wrapper(), wrapper(cpu_autocast=True)
    x = torch.randn(2, 4)
    with default.optim_context(model):
        assert model(x).dtype == torch.float32  # fell back, with a warning
    assert default.dtype is None
    with forced.optim_context(model):
        assert model(x).dtype == torch.bfloat16


@pytest.mark.parametrize('fused', [False, True])
def test_merged_groups_give_the_same_update_with_fewer_groups(fused):
    """``merge_groups``: one group per distinct (lr_mult, wd_mult,
    last_layer, clip_group), the same AdamW update (under POAScheduleHook's
    per-group lr / wd and per-module clipping) as a group per parameter."""
    updates = []
    for merge in (False, True):
        torch.manual_seed(0)
        w = poa_wrapper(dict(type='ElasticViT', arch='micro'), 128,
                        layer_decay_rate=0.9, patch_embed_lr_mult=0.2,
                        merge_groups=merge)
        if fused:
            w.optimizer.defaults['fused'] = True
            for group in w.optimizer.param_groups:
                group['fused'] = True
        params = [p for g in w.optimizer.param_groups for p in g['params']]
        names = [n for g in w.optimizer.param_groups for n in g['param_names']]
        for group in w.optimizer.param_groups:  # as POAScheduleHook sets them
            group['lr'] = 1e-2 * group['lr_mult']
            group['weight_decay'] = 0.04 * group['wd_mult']
        before = {n: p.detach().clone() for n, p in zip(names, params)}
        g = torch.Generator().manual_seed(1)
        for _ in range(2):
            for n, p in sorted(zip(names, params)):
                p.grad = torch.randn(p.shape, generator=g)
            w.step()
        updates.append((len(w.optimizer.param_groups),
                        {n: p.detach() - before[n]
                         for n, p in zip(names, params)}))
    (n_single, single), (n_merged, merged) = updates
    assert n_merged * 4 < n_single
    assert single.keys() == merged.keys()
    for name, delta in single.items():
        assert torch.allclose(delta, merged[name], rtol=1e-5, atol=1e-7), \
            name

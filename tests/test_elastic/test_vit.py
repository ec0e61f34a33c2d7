"""ElasticViT: exported stock VisionTransformer == elastic sub-network."""
import random
from contextlib import nullcontext

import pytest
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.elastic import ElasticViT, SubnetSpec
from poa_test_helpers.elastic import (TOL, assert_export_exact, build_stock,
                                      randomise)



def assert_subnet_exact(elastic: ElasticViT, spec, images, out_indices):
    """The export at raw ``out_indices`` == elastic, and the elastic
    model's ``forward_tokens`` are the exported model's final tokens."""
    got, cfg = assert_export_exact(elastic, spec, images,
                                   out_indices=out_indices, out_type='raw')
    spec = elastic.search_space.resolve(spec)
    assert cfg['type'] == 'mmpretrain.VisionTransformer'
    assert cfg['arch']['embed_dims'] == spec.width
    assert cfg['arch']['num_layers'] == spec.depth
    with torch.no_grad():
        cls, patch = elastic.forward_tokens(images)
    final = got[-1]  # out_indices end with -1: after the final norm
    assert (final[:, 0] - cls).abs().max().item() <= TOL
    assert (final[:, 1:] - patch).abs().max().item() <= TOL


@pytest.fixture(scope='module')
def tiny_vit():
    model = MODELS.build(dict(type='ElasticViT', arch='tiny'))
    randomise(model)
    return model.eval()


def test_tokens_are_the_exported_models_tokens(tiny_vit):
    """(Every sub-network's export: tests/test_elastic/test_contract.py.)"""
    images = torch.randn(2, 3, 28, 28)
    space = tiny_vit.search_space
    assert len(space.candidates()) == 20
    for spec in ('min', '128x5', 'max'):
        assert_subnet_exact(tiny_vit, spec, images, out_indices=[0, 1, -1])


def test_other_input_size_differs_only_by_the_resize_rule(tiny_vit):
    # 36 px -> 9x9 patches vs. the 7x7 grid the embedding was built for:
    # the elastic model resizes by the official rule, the stock model by
    # mmpretrain's; given the officially resized embedding, the stock
    # model built for 36 px computes exactly the elastic model.
    from poa_mm.elastic.vit_convert import interpolate_pos_embed
    spec = tiny_vit.set_subnet('96x4')
    cfg, state = tiny_vit.export_subnet(spec, out_type='raw')
    images = torch.randn(2, 3, 36, 36)
    tiny_vit.out_type, tiny_vit.out_indices = 'raw', [-1]
    with torch.no_grad():
        expected = tiny_vit(images)[0]
        native_stock = build_stock(cfg, state)(images)[0]
        state['pos_embed'] = interpolate_pos_embed(state['pos_embed'],
                                                   (7, 7), (9, 9))
        got = build_stock(dict(cfg, img_size=36), state)(images)[0]
    assert (expected - got).abs().max().item() <= TOL
    assert (expected - native_stock).abs().max().item() > 1e-3


def test_featmap_and_cls_outputs(tiny_vit):
    tiny_vit.set_subnet('128x5')
    cfg, state = tiny_vit.export_subnet('128x5', out_type='featmap')
    stock = build_stock(cfg, state)
    tiny_vit.out_type, tiny_vit.out_indices = 'featmap', [-1]
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        e, o = tiny_vit(x)[0], stock(x)[0]
    assert e.shape == (2, 128, 7, 7)
    assert (e - o).abs().max().item() <= TOL


def test_mask_token_replaces_masked_patches(tiny_vit):
    x = torch.randn(2, 3, 28, 28)
    mask = torch.zeros(2, 49, dtype=torch.bool)
    mask[0, :10] = True
    mask = mask.view(2, 7, 7)
    before = tiny_vit.set_subnet('160x4')
    with torch.no_grad(), tiny_vit.subnet('64x3'):
        _, plain = tiny_vit.forward_tokens(x)
        _, masked = tiny_vit.forward_tokens(x, mask)
    assert torch.equal(plain[1], masked[1])  # the unmasked crop is unchanged
    assert not torch.allclose(plain[0], masked[0])
    assert tiny_vit.active_subnet == before  # restored on exit


@pytest.mark.parametrize('bad, message', [
    ('100x3', 'valid widths'),
    ('96x7', 'valid: 3..6'),
    ('vit-xl', 'valid presets'),
])
def test_bad_specs_name_the_valid_choices(tiny_vit, bad, message):
    with pytest.raises(ValueError, match=message):
        tiny_vit.set_subnet(bad)


def test_bad_arch_is_refused():
    with pytest.raises(ValueError, match='Unknown ElasticViT arch'):
        ElasticViT(arch='gigantic')
    with pytest.raises(ValueError, match='multiples of head_dims'):
        ElasticViT(arch=dict(embed_dims=128, num_layers=2, head_dims=32,
                             widths=[48, 128], depths=[1, 2]))


def test_parameter_names_mirror_stock_vit(tiny_vit):
    cfg, state = tiny_vit.export_subnet('max')
    stock = MODELS.build(cfg)
    assert set(stock.state_dict()) == set(state)
    assert set(tiny_vit.state_dict()) - set(state) == {'mask_token'}


@pytest.fixture(scope='module')
def vit_large():
    model = MODELS.build(dict(type='ElasticViT', arch='large'))
    randomise(model, seed=1)
    return model.eval()


@pytest.mark.slow
def test_vit_large_presets_and_random_subnets_export_exactly(vit_large):
    space = vit_large.search_space
    rng = random.Random(0)
    specs = [space.resolve(p) for p in ('vit-s', 'vit-b', 'vit-l')]
    specs += rng.sample(
        [s for s in space.candidates() if s not in specs], 10)
    images = torch.randn(1, 3, 224, 224)
    for spec in specs:
        assert_subnet_exact(vit_large, spec, images, out_indices=[3, -1])
    assert SubnetSpec(384, (12, )) == space.resolve('vit-s')


def test_without_qkv_bias():
    model = MODELS.build(dict(type='ElasticViT', arch='micro',
                              qkv_bias=False))
    randomise(model, seed=2)
    model.eval()
    for spec in ('64x2', '96x3'):
        assert_subnet_exact(model, spec, torch.randn(2, 3, 28, 28), [-1])


def test_pos_embed_resize_follows_the_official_rule():
    from mmpretrain.models.utils import resize_pos_embed

    from poa_mm.elastic.vit_convert import interpolate_pos_embed
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 14 * 14, 8)
    ours = interpolate_pos_embed(pos, (14, 14), (6, 6))
    # DINOv2 / POA: bicubic with scale_factor (side + 0.1) / 14, CLS apart.
    grid = pos[:, 1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
    ref = torch.nn.functional.interpolate(
        grid, scale_factor=(6.1 / 14, 6.1 / 14), mode='bicubic')
    ref = torch.cat((pos[:, :1], ref.flatten(2).transpose(1, 2)), dim=1)
    assert ours.shape == (1, 37, 8)
    assert torch.equal(ours, ref)
    # ... which is not mmpretrain's size= resize (the old behaviour).
    mm = resize_pos_embed(pos, (14, 14), (6, 6), 'bicubic', 1)
    assert (mm - ours).abs().max() > 0.1
    assert interpolate_pos_embed(pos, (14, 14), (14, 14)) is pos


def test_local_crops_use_the_official_pos_embed_resize():
    from poa_mm.elastic.vit_convert import interpolate_pos_embed
    vit = ElasticViT(arch=dict(embed_dims=32, num_layers=2, head_dims=16,
                               widths=[16, 32], depths=[1, 2]),
                     img_size=28, patch_size=4)
    randomise(vit)
    vit.eval()
    x = torch.randn(2, 3, 12, 12)
    tokens, _ = vit._embed(x, None)
    patches = torch.nn.functional.conv2d(
        x, vit.patch_embed.projection.weight, vit.patch_embed.projection.bias,
        stride=4).flatten(2).transpose(1, 2)
    expected = torch.cat((vit.cls_token.expand(2, -1, -1), patches), 1)
    expected = expected + interpolate_pos_embed(vit.pos_embed, (7, 7), (3, 3))
    assert (tokens - expected).abs().max() < 1e-6


def test_the_intact_network_slices_nothing():
    """Full-size slices are the parameters themselves: the intact network
    (and the teacher) runs no SliceBackward, so it pays no full-size zero
    gradient per use; a sub-network still does."""
    from torch.profiler import ProfilerActivity, profile

    from poa_test_helpers.scripts import load_script
    full_size_views = load_script('benchmarks/common.py').full_size_views
    model = MODELS.build(dict(type='ElasticViT', arch='micro'))
    x = torch.randn(2, 3, 28, 28)

    def ops(spec, shortcut=True):
        model.set_subnet(spec)
        with nullcontext() if shortcut else full_size_views():
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                model(x)[-1].sum().backward()
        return {e.key for e in prof.key_averages()}

    sliced = 'aten::slice_backward'
    assert sliced not in ops('max')
    assert sliced in ops('max', shortcut=False)
    assert sliced in ops('min')

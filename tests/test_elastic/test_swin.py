"""ElasticSwin: exported stock SwinTransformer == elastic sub-network."""
import random

import pytest
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.elastic import SubnetSpec, grid_search_space

# Every output is LayerNorm-ed: absolute tolerance.
TOL = 1e-5


def randomise(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if 'norm' in name and name.endswith('weight'):
                p.copy_(1 + 0.2 * noise)
            elif 'relative_position_bias_table' in name:
                p.copy_(noise)
            else:
                p.copy_(0.05 * noise)


def assert_subnet_exact(elastic, spec, images):
    spec = elastic.set_subnet(spec)
    cfg, state = elastic.export_subnet(spec, out_indices=(0, 1, 2, 3))
    assert cfg['type'] == 'mmpretrain.SwinTransformer'
    stock = MODELS.build(cfg)
    stock.load_state_dict(state, strict=True)
    stock.eval()
    elastic.out_indices = (0, 1, 2, 3)
    with torch.no_grad():
        expected, got = elastic(images), stock(images)
        cls, _ = elastic.forward_tokens(images)
    for e, o in zip(expected, got):
        assert e.shape == o.shape
        assert (e - o).abs().max().item() <= TOL, str(spec)
    assert (got[-1].mean(dim=(2, 3)) - cls).abs().max().item() <= TOL


@pytest.fixture(scope='module')
def tiny_swin():
    model = MODELS.build(dict(type='ElasticSwin', arch='tiny', img_size=56))
    randomise(model)
    model.eval()
    return model


def test_every_tiny_subnet_exports_exactly(tiny_swin):
    # 56 px: 14x14 patches, so stages 1-2 use real shifted windows.
    images = torch.randn(2, 3, 56, 56)
    specs = tiny_swin.search_space.candidates()
    assert len(specs) == 15
    for spec in specs:
        assert_subnet_exact(tiny_swin, spec, images)


def test_kept_blocks_alternate_shifts_by_position(tiny_swin):
    tiny_swin.set_subnet('16x4')
    cfg, state = tiny_swin.export_subnet('16x4')
    stock = MODELS.build(cfg)
    shifts = [b.attn.shift_size > 0 for b in stock.stages[2].blocks]
    assert shifts == [False, True, False, True]
    assert tiny_swin._blocks[2] == [0, 1, 3, 5]  # original indices kept


def test_paper_multiset_presets_and_random_subnets():
    model = MODELS.build(dict(type='ElasticSwin', arch='base',
                              img_size=112))
    space = model.search_space
    assert len(space) == 39
    assert len(space.sampling) == 89 and len(space.elastic_multiset) == 88
    assert space.sampling[-1] == SubnetSpec(128, (18, ))
    assert space.sampling == grid_search_space([96, 112, 128],
                                               range(6, 19), 2).sampling
    randomise(model, seed=1)
    model.eval()
    presets = [space.resolve(p) for p in ('swin-t', 'swin-s', 'swin-b')]
    specs = presets + random.Random(0).sample(
        [s for s in space.candidates() if s not in presets], 10)
    images = torch.randn(1, 3, 112, 112)
    for spec in specs:
        assert_subnet_exact(model, spec, images)


def test_mask_token_and_tokens_on_the_mask_grid(tiny_swin):
    x = torch.randn(2, 3, 56, 56)
    mask = torch.zeros(2, 7, 7, dtype=torch.bool)
    mask[0, 2:5, 2:5] = True
    with torch.no_grad(), tiny_swin.subnet('24x3'):
        cls, patch = tiny_swin.forward_tokens(x, grid=(7, 7))
        cls_m, patch_m = tiny_swin.forward_tokens(x, mask, grid=(7, 7))
    assert cls.shape == (2, 192) and patch.shape == (2, 49, 192)
    assert torch.equal(cls[1], cls_m[1]) and not torch.equal(cls[0], cls_m[0])


def test_bad_spec(tiny_swin):
    with pytest.raises(ValueError, match='valid widths'):
        tiny_swin.set_subnet('20x3')
    with pytest.raises(ValueError, match='valid: 2..6'):
        tiny_swin.set_subnet('16x7')

"""ElasticSwin: exported stock SwinTransformer == elastic sub-network."""
import random

import pytest
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.elastic import SubnetSpec, grid_search_space
from poa_test_helpers.elastic import (TOL, assert_export_exact,
                                     masked_tokens, randomise)


def assert_subnet_exact(elastic, spec, images):
    """Every stage of the export == elastic; ``forward_tokens``' pooled
    feature is the mean of the last stage."""
    got, cfg = assert_export_exact(elastic, spec, images,
                                   out_indices=(0, 1, 2, 3))
    assert cfg['type'] == 'mmpretrain.SwinTransformer'
    with torch.no_grad():
        cls, _ = elastic.forward_tokens(images)
    assert (got[-1].mean(dim=(2, 3)) - cls).abs().max().item() <= TOL


@pytest.fixture(scope='module')
def tiny_swin():
    model = MODELS.build(dict(type='ElasticSwin', arch='tiny', img_size=56))
    randomise(model)
    model.eval()
    return model


def test_pooled_feature_is_the_exports_last_stage(tiny_swin):
    """(Every sub-network's export: tests/test_elastic/test_contract.py.)"""
    images = torch.randn(2, 3, 56, 56)
    assert len(tiny_swin.search_space.candidates()) == 15
    for spec in ('min', 'max'):
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
    mask = torch.zeros(2, 7, 7, dtype=torch.bool)
    mask[0, 2:5, 2:5] = True
    cls, patch = masked_tokens(tiny_swin, '24x3', 56, mask)
    assert cls.shape == (2, 192) and patch.shape == (2, 49, 192)


def test_bad_spec(tiny_swin):
    with pytest.raises(ValueError, match='valid widths'):
        tiny_swin.set_subnet('20x3')
    with pytest.raises(ValueError, match='valid: 2..6'):
        tiny_swin.set_subnet('16x7')

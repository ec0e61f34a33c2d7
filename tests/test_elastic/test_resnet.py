"""ElasticResNet: exported standard GN ResNet == elastic sub-network."""
import random
from collections import Counter

import pytest
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.elastic import SubnetSpec
from poa_test_helpers.elastic import (TOL, assert_export_exact,
                                     masked_tokens, randomise)


def assert_subnet_exact(elastic, spec, images):
    """Every stage of the export == elastic; ``forward_tokens``' pooled
    feature is the mean of the last stage. Returns the export's config."""
    got, cfg = assert_export_exact(elastic, spec, images,
                                   out_indices=(0, 1, 2, 3))
    with torch.no_grad():
        cls, _ = elastic.forward_tokens(images)
    assert (got[-1].mean(dim=(2, 3)) - cls).abs().max().item() <= TOL
    return cfg


@pytest.fixture(scope='module')
def tiny_resnet():
    model = MODELS.build(dict(type='ElasticResNet', arch='tiny'))
    randomise(model)
    model.eval()
    return model


def test_exports_are_poa_static_resnets(tiny_resnet):
    """(Every sub-network's export: tests/test_elastic/test_contract.py.)"""
    images = torch.randn(2, 3, 32, 32)
    assert len(tiny_resnet.search_space.candidates()) == 2 * 2 * 3
    for spec in ('min', 'max'):
        cfg = assert_subnet_exact(tiny_resnet, spec, images)
        assert cfg['type'] == 'mmpretrain.POAStaticResNet'


def test_paper_multiset_has_699_entries():
    model = MODELS.build(dict(type='ElasticResNet', arch='paper'))
    space = model.search_space
    assert len(space) == 465
    assert len(space.sampling) == 699 and len(space.elastic_multiset) == 698
    assert space.sampling[-1] == SubnetSpec(128, (8, 36))
    counts = Counter(space.sampling)
    assert counts[SubnetSpec(64, (4, 6))] == 2  # shallow configs: 2 copies
    assert counts[SubnetSpec(96, (8, 36))] == 1
    assert sum(counts[s] for s in counts if s.width == 64) == 233


def test_paper_presets_random_subnets_and_stock_resnet(tmp_path):
    model = MODELS.build(dict(type='ElasticResNet', arch='paper'))
    randomise(model, seed=1)
    model.eval()
    space = model.search_space
    presets = [space.resolve(p) for p in ('r50', 'r101', 'r152')]
    rng = random.Random(0)
    specs = presets + [SubnetSpec(128, (4, 6))] + rng.sample(
        [s for s in space.candidates() if s not in presets], 10)
    images = torch.randn(1, 3, 64, 64)
    types = {}
    for spec in specs:
        types[str(spec)] = assert_subnet_exact(model, spec, images)['type']
    # The stock class hosts the standard depths at an integer expansion.
    assert types['64-4-6'] == types['64-4-23'] == types['64-8-36'] == \
        'mmpretrain.ResNet'
    assert types['128-4-6'] == 'mmpretrain.ResNet'
    assert 'mmpretrain.POAStaticResNet' in types.values()


def test_mask_token_on_the_stem_and_tokens_on_the_mask_grid(tiny_resnet):
    mask = torch.zeros(2, 7, 7, dtype=torch.bool)
    mask[0, :3] = True
    cls, patch = masked_tokens(tiny_resnet, 'min', 28, mask)
    assert patch.shape == (2, 49, 512) and cls.shape == (2, 512)


def test_bad_spec_names_valid_choices(tiny_resnet):
    with pytest.raises(ValueError, match='valid widths'):
        tiny_resnet.set_subnet('48-2-2')
    with pytest.raises(ValueError, match='valid: 2..4'):
        tiny_resnet.set_subnet('32-2-5')

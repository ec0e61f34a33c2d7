"""The elastic contract (poa_mm/elastic/base.py), checked on every elastic
backbone in the registry with its own small supernet: a new family is
covered by registering it."""
import pytest
import torch
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.elastic import SubnetSpec
from poa_mm.elastic.base import CONTRACT, ElasticBackboneMixin
from poa_test_helpers.elastic import (assert_export_exact, build_stock,
                                      elastic_families, randomise)

FAMILIES = elastic_families()


def small(cls):
    model = MODELS.build(dict(type=cls.__name__, **cls.small_supernet))
    randomise(model)
    return model.eval()


def images(model, batch=2):
    size = getattr(model, 'img_size', 32)
    return torch.randn(batch, 3, size, size,
                       generator=torch.Generator().manual_seed(1))


def test_every_family_of_the_package_is_covered():
    names = {name for name, _ in FAMILIES}
    assert {'ElasticViT', 'ElasticSwin', 'ElasticResNet'} <= names


def test_a_family_missing_a_piece_fails_at_class_definition():
    with pytest.raises(TypeError, match='does not implement the elastic '
                       'contract: .*export_subnet'):

        class HalfDone(ElasticBackboneMixin, BaseBackbone):

            def set_subnet(self, spec):
                return spec

    assert set(CONTRACT) >= {'set_subnet', 'export_subnet', 'flops',
                             'dense_export_kwargs', 'forward_tokens'}


@pytest.mark.parametrize('name, cls', FAMILIES, ids=[n for n, _ in FAMILIES])
def test_every_subnet_exports_exactly(name, cls):
    """Default and dense exports of every candidate of the small supernet
    compute what the elastic sub-network computes (fp32, 1e-5)."""
    model = small(cls)
    x = images(model)
    defaults = dict(out_indices=model.out_indices,
                    out_type=getattr(model, 'out_type', None))
    for spec in model.search_space.candidates():
        assert_export_exact(model, spec, x)
        assert_export_exact(model, spec, x, **model.dense_export_kwargs(spec))
        for key, value in defaults.items():
            if value is not None:
                setattr(model, key, value)


@pytest.mark.parametrize('name, cls', FAMILIES, ids=[n for n, _ in FAMILIES])
def test_presets_specs_and_errors(name, cls):
    model = small(cls)
    space = model.search_space
    assert space.resolve('min') == space.sampling[0]
    assert space.resolve('max') == space.intact
    for preset in space.presets.values():
        assert preset in space
    assert model.set_subnet('max') == space.intact
    assert model.max_out_channels == model.out_channels
    bad_width = SubnetSpec(max(space.widths) + 1, space.intact.depths)
    with pytest.raises(ValueError, match='valid widths'):
        model.set_subnet(bad_width)
    too_deep = SubnetSpec(space.intact.width,
                          tuple(d[-1] + 1 for d in space.depth_choices))
    with pytest.raises(ValueError, match='out of range'):
        model.set_subnet(too_deep)
    with pytest.raises(ValueError):
        model.set_subnet('no-such-preset')


@pytest.mark.parametrize('name, cls', FAMILIES, ids=[n for n, _ in FAMILIES])
def test_dense_exports_build_and_count_flops(name, cls):
    model = small(cls)
    for spec in (model.search_space.presets['min'],
                 model.search_space.intact):
        stock_cfg, state = model.export_subnet(
            spec, **model.dense_export_kwargs(spec))
        stock = build_stock(stock_cfg, state)
        with torch.no_grad():
            outs = stock(images(model, 1))
        assert len(outs) in (1, 4)
        assert model.flops(spec, images(model).shape[-1]) > 0
    info = cls.downstream_spec(stock_cfg)  # the intact network's
    assert len(info['feature_channels']) == 4

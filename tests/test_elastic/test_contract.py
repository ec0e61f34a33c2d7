"""The elastic contract, declared in poa_mm/elastic/base.py."""
import pytest
import torch
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.elastic.base import CONTRACT, ElasticBackboneMixin

SMALL = [
    dict(type='ElasticViT', arch='micro'),
    dict(type='ElasticSwin', arch='tiny', img_size=56),
    dict(type='ElasticResNet', arch='tiny'),
]


def test_a_family_missing_a_piece_fails_at_class_definition():
    with pytest.raises(TypeError, match='does not implement the elastic '
                       'contract: .*export_subnet'):

        class HalfDone(ElasticBackboneMixin, BaseBackbone):

            def set_subnet(self, spec):
                return spec

    assert set(CONTRACT) >= {'set_subnet', 'export_subnet', 'flops',
                             'dense_export_kwargs', 'forward_tokens'}


@pytest.mark.parametrize('cfg', SMALL, ids=lambda c: c['type'])
def test_dense_exports_build_as_standard_backbones(cfg):
    backbone = MODELS.build(cfg)
    for spec in (backbone.search_space.presets['min'],
                 backbone.search_space.intact):
        stock_cfg, state = backbone.export_subnet(
            spec, **backbone.dense_export_kwargs(spec))
        stock = MODELS.build(stock_cfg)
        stock.load_state_dict(state, strict=True)
        stock.eval()
        size = getattr(backbone, 'img_size', 64)
        with torch.no_grad():
            outs = stock(torch.zeros(1, 3, size, size))
        assert len(outs) in (1, 4)
        assert backbone.flops(spec, size) > 0

"""Closed-form FLOPs == MMEngine's FlopAnalyzer on the exported backbone."""
import random

import pytest
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.apis.flops import count_flops


def stock(backbone, spec):
    cfg, _ = backbone.export_subnet(spec)
    return MODELS.build(cfg)


@pytest.mark.parametrize('cfg, size', [
    (dict(type='ElasticViT', arch='micro'), 28),
    (dict(type='ElasticViT', arch='micro'), (40, 52)),
    (dict(type='ElasticSwin', arch='tiny', img_size=56), 56),
    (dict(type='ElasticSwin', arch='tiny', img_size=56), (120, 88)),
    (dict(type='ElasticResNet', arch='tiny'), 64),
    (dict(type='ElasticResNet', arch='tiny'), (97, 130)),
])
def test_closed_form_equals_flop_analyzer_on_sampled_subnets(cfg, size):
    backbone = MODELS.build(cfg)
    specs = backbone.search_space.candidates()
    sample = [specs[0], specs[-1]] + random.Random(0).sample(
        specs[1:-1], min(3, len(specs) - 2))
    for spec in sample:
        expected = count_flops(stock(backbone, spec), size)
        assert backbone.flops(spec, size) == expected, (str(spec), size)


def test_vit_b16_counts_attention():
    # One multiply-add = one FLOP; stock MMEngine (no attention handle)
    # gives 16,866,644,736 for ViT-B/16 at 224.
    vit = MODELS.build(dict(type='ElasticViT', arch='large'))
    assert vit.flops('vit-b') == 17_581_972_224
    assert count_flops(stock(vit, 'vit-b'), 224) == 17_581_972_224


@pytest.mark.slow
def test_paper_supernets_at_224_and_448():
    for cfg, specs in [
        (dict(type='ElasticViT', arch='large'), ['vit-s', '640x16']),
        (dict(type='ElasticSwin', arch='base'), ['96x6', '112x12']),
        (dict(type='ElasticResNet', arch='paper'), ['64-4-6', '96-6-20']),
    ]:
        with torch.device('meta'):
            meta = MODELS.build(cfg)
        backbone = MODELS.build(cfg)
        for spec in specs:
            for size in (224, 448):
                assert meta.flops(spec, size) == count_flops(
                    stock(backbone, spec), size), (cfg['type'], spec, size)

"""A fourth elastic family, defined here only, goes through the family
listing, extraction and config writing: poa_mm/apis asks the backbone
(the contract and its downstream_spec), never its class name."""
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.apis.downstream import mmseg_config
from poa_mm.apis.extract import extract_subnet
from poa_mm.fileio import save_atomic
from poa_mm.apis.family import subnet_family
from poa_mm.elastic import ElasticViT


@MODELS.register_module(force=True)
class ToyElasticViT(ElasticViT):
    """A 'new' family: a ViT whose dense outputs go straight to the decode
    head (no neck), with its own size class."""

    @classmethod
    def downstream_spec(cls, stock_cfg: dict) -> dict:
        spec = super().downstream_spec(stock_cfg)
        return dict(spec, seg_neck=None, det_neck=None, drop_path_rate=0.05,
                    small=True)


def test_toy_family_lists_extracts_and_writes_configs(tmp_path):
    from mmengine.registry import DefaultScope

    # Other tests may leave another default scope (mmseg) behind.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        toy_family_round_trip(tmp_path)


def toy_family_round_trip(tmp_path):
    backbone_cfg = dict(type='ToyElasticViT', arch='micro')
    rows = subnet_family(backbone_cfg)
    assert [r['subnet'] for r in rows][0] == '64x2' and len(rows) == 9
    assert all(r['gflops'] > 0 for r in rows)

    model = MODELS.build(dict(
        type='POA', backbone=backbone_cfg,
        head=dict(type='MultiProjectionHead', in_channels=128,
                  num_prototypes=(16, ), hidden_channels=16,
                  bottleneck_channels=8)))
    ckpt = tmp_path / 'poa.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=1),
                    poa_mm=dict(model_type='POA',
                                backbone_cfg=backbone_cfg)), ckpt)
    subnet = extract_subnet(str(ckpt), '128x4')
    assert subnet['meta']['elastic_backbone'] == 'ToyElasticViT'
    assert subnet['meta']['backbone_cfg']['out_type'] == 'featmap'
    out = tmp_path / 'toy_128x4.pth'
    save_atomic(subnet, str(out))

    data = tmp_path / 'seg'
    for kind in ('images', 'annotations'):
        for split in ('training', 'validation'):
            (data / kind / split).mkdir(parents=True)
    (data / 'classes.txt').write_text('background\nthing\n')
    cfg = mmseg_config(str(out), 'upernet', str(data), max_iters=2)
    assert 'neck' not in cfg.model  # the toy family's choice
    assert cfg.model.backbone.drop_path_rate == 0.05
    assert cfg.model.decode_head.in_channels == [128] * 4
    # 'small' picks the small ViT recipe: lr 6e-5, layer decay 0.8
    assert cfg.optim_wrapper.optimizer.lr == 6e-5
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.8

"""Every shipped config parses and builds its model through the registry."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py')))
CONFIGS = [c for c in CONFIGS if '_base_' not in c]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_parses_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'poa_mm' in cfg.custom_imports['imports']
    init_default_scope(cfg.default_scope)
    if path.endswith('_in1k.py'):
        # paper supernets are large: keep the heads small
        cfg.model.head.num_prototypes = (16, )
        cfg.model.head.hidden_channels = 16
    model = MODELS.build(cfg.model)
    assert model.backbone.search_space.intact == model.backbone.active_subnet
    assert cfg.model.head.in_channels == model.backbone.max_out_channels

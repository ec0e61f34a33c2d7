"""Every shipped config parses and builds its model through the registry."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.apis.config_check import check_config_keys

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py')))
CONFIGS = [c for c in CONFIGS if '_base_' not in c]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_parses_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'poa_mm' in cfg.custom_imports['imports']
    assert check_config_keys(cfg) is None
    init_default_scope(cfg.default_scope)
    if 'fashion-mnist' not in path:
        # paper supernets are large: keep the heads small
        cfg.model.head.num_prototypes = (16, )
        cfg.model.head.hidden_channels = 16
    model = MODELS.build(cfg.model)
    assert model.backbone.search_space.intact == model.backbone.active_subnet
    assert cfg.model.head.in_channels == model.backbone.max_out_channels


def test_custom_folder_example_trains_on_an_unlabelled_folder(tmp_path):
    """docs/pretrain_custom_data.md: the paper recipe on a folder of
    unlabelled images in nested folders, the supernet shrunk to the tiny
    ViT at patch 16 (the recipe's 224 / 96 px crops and 14 x 14 mask grid
    unchanged), two iterations of a real Runner."""
    import numpy as np
    from mmcv import imwrite
    from mmengine.runner import Runner
    rng = np.random.default_rng(0)
    for i in range(6):  # nested folders, names without meaning
        imwrite(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8),
                str(tmp_path / 'images' / f'part{i % 2}' / f'{i}.png'))
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/poa/poa_vit-l16_8xb50-100e_custom-folder.py'))
    # the settings that follow from the three numbers
    assert cfg.iters_per_epoch == 200_000 // (8 * 50) == 500
    assert cfg.train_cfg.max_iters == 100 * 500
    schedule = cfg.custom_hooks[0]
    assert schedule.type == 'POAScheduleHook'
    assert schedule.warmup_iters == 10 * 500
    assert schedule.ibot_start_iter == 30 * 500
    assert cfg.default_hooks.checkpoint.interval == 10 * 500
    assert cfg.train_dataloader.dataset.with_label is False
    cfg.merge_from_dict(dict(
        work_dir=str(tmp_path / 'work'),
        model=dict(backbone=dict(arch='tiny', patch_size=16, img_size=224),
                   head=dict(in_channels=192, num_prototypes=(32, ),
                             hidden_channels=32, bottleneck_channels=16)),
        train_dataloader=dict(batch_size=2, num_workers=0,
                              persistent_workers=False, pin_memory=False,
                              dataset=dict(data_root=str(tmp_path /
                                                         'images'))),
        train_cfg=dict(max_iters=2),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        default_hooks=dict(logger=dict(interval=1),
                           checkpoint=dict(interval=2))))
    runner = Runner.from_cfg(cfg)
    assert len(runner.train_dataloader.dataset) == 6
    runner.train()
    assert (tmp_path / 'work' / 'iter_2.pth').exists()


PAPER_RECIPES = [c for c in CONFIGS if 'fashion-mnist' not in c
                 and '/poa/' in c]


@pytest.mark.parametrize('path', PAPER_RECIPES, ids=osp.basename)
def test_paper_recipes_are_made_of_base_files_only(path):
    """A change to one recipe never changes another: each states its
    parts once, in configs/_base_/."""
    bases = Config._get_base_files(path)
    assert bases and all(b.startswith('../_base_/') for b in bases), bases


def test_schedule_hook_defaults_are_the_papers_and_no_config_restates_them():
    import inspect

    from poa_mm.engine import POAScheduleHook
    from poa_mm.engine.hooks import PAPER_LR_SCALING
    defaults = {name: p.default for name, p in inspect.signature(
        POAScheduleHook).parameters.items()}
    assert PAPER_LR_SCALING == dict(base_lr=0.004, ref_batch=1024,
                                    rule='sqrt')
    defaults['lr_scaling'] = PAPER_LR_SCALING
    assert (defaults['lr_min'], defaults['weight_decay'],
            defaults['momentum'], defaults['teacher_temp'],
            defaults['iter_num_scale']) == (2e-5, (0.04, 0.4),
                                            (0.992, 0.9999), (0.04, 0.07), 1.)
    for path in CONFIGS:
        for hook in Config.fromfile(path).get('custom_hooks', []):
            if hook['type'] == 'POAScheduleHook':
                restated = sorted(
                    k for k, v in hook.items() if k in defaults and
                    (tuple(v) if isinstance(v, list) else v) == defaults[k])
                assert not restated, (osp.basename(path), restated)

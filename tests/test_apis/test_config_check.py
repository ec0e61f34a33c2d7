"""--cfg-options keys that nothing would read, and missing data folders,
checked against the real tiny config and the real registries."""
import os.path as osp

import pytest
from mmengine.config import Config

from poa_mm.apis.config_check import check_cfg_options, check_data_roots

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'


@pytest.fixture(scope='module')
def cfg(repo_root):
    return Config.fromfile(osp.join(repo_root, CONFIG))


@pytest.mark.parametrize('key', [
    'train_cfg.max_iters',  # an existing setting
    'model.split_backward',  # a new argument POA takes
    'model.backbone.arch',
    'custom_hooks.0.lr_min',
    'env_cfg.dist_cfg.timeout',  # under a dict without a type: unchecked
    'load_from',  # a top-level setting the Runner reads
    'model_wrapper_cfg',
])
def test_keys_that_are_read_pass(cfg, key):
    assert check_cfg_options(cfg, {key: 1}) is None


@pytest.mark.parametrize('key, expected', [
    ('train_cfg.max_iter', "no setting 'max_iter' in train_cfg; did you "
     "mean 'max_iters'?"),
    ('model.lambda_intac', "did you mean 'lambda_intact'?"),
    ('custom_hooks.0.lr_mn', "in custom_hooks.0; did you mean 'lr_min'?"),
    ('custom_hooks.9.interval', 'custom_hooks is a list of'),
    ('max_iter', "no setting 'max_iter' in the config; did you mean "
     "'max_iters'?"),
    ('model.lambda_intact.x', 'model.lambda_intact is a float'),
])
def test_keys_nothing_reads_are_named(cfg, key, expected):
    error = check_cfg_options(cfg, {key: 1})
    assert error is not None and expected in error, error
    assert error.startswith(f'--cfg-options {key}:') and '\n' not in error


def test_missing_data_root_is_one_line(cfg, tmp_path, fashion_mnist):
    cfg = cfg.copy()
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    assert 'is not a folder' in check_data_roots(cfg)
    cfg.train_dataloader.dataset.data_root = str(tmp_path)
    assert 'does not exist' in check_data_roots(cfg)  # no train/ below
    cfg.train_dataloader.dataset.data_root = fashion_mnist
    assert check_data_roots(cfg) is None

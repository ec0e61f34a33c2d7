"""tools/train.py answers bad input with one line before building a
Runner: unreadable configs, --cfg-options keys nothing reads, missing
data folders."""
import os.path as osp

import pytest

from poa_test_helpers.scripts import load_script, one_line_error

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'


@pytest.fixture(scope='module')
def train():
    return load_script('tools/train.py')


def _error(train, argv):
    return one_line_error(train.main, argv)


def test_missing_config(train, tmp_path):
    assert 'config not found' in _error(train, [str(tmp_path / 'no.py')])


def test_config_with_a_syntax_error(train, tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('model = dict(type=\n')
    assert f'cannot read config {bad}' in _error(train, [str(bad)])


def test_unknown_cfg_option(train, repo_root, tmp_path):
    message = _error(train, [
        osp.join(repo_root, CONFIG), '--work-dir', str(tmp_path),
        '--cfg-options', 'train_cfg.max_iter=3'])
    assert "did you mean 'max_iters'?" in message


def test_missing_data_root(train, repo_root, tmp_path):
    message = _error(train, [
        osp.join(repo_root, CONFIG), '--work-dir', str(tmp_path),
        '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}/x'])
    assert 'is not a folder' in message
    assert not osp.exists(tmp_path / 'last_checkpoint')

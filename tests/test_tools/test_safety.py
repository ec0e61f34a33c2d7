"""Files from others are data: crafted checkpoints never run code."""
import os

import pytest
import torch

from poa_mm.fileio import load_checkpoint
from poa_mm.utils import check_plain
from poa_mm.apis.extract import load_poa_checkpoint, load_subnet_checkpoint
from poa_test_helpers.tools import run as run_tool

pytestmark = pytest.mark.slow  # subprocess runs of the tools

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'


class RunsCommand:
    """Unpickling this runs a shell command (a classic pickle attack)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


def poa_like(extra):
    ckpt = dict(
        meta=dict(iter=1),
        state_dict={'teacher.backbone.cls_token': torch.zeros(1, 1, 4)},
        poa_mm=dict(model_type='POA',
                    backbone_cfg=dict(type='ElasticViT', arch='tiny')))
    ckpt.update(extra)
    return ckpt


def run(cmd, repo_root):
    """The tool in its own process (``poa_test_helpers.tools.run``)."""
    return run_tool(cmd, repo_root, check=False, timeout=300)


def test_malicious_pickles_are_refused_by_every_tool(repo_root, tmp_path,
                                                     fashion_mnist):
    marker = tmp_path / 'marker'
    evil = tmp_path / 'evil.pth'
    torch.save(poa_like(dict(payload=RunsCommand(f'touch {marker}'))), evil)
    with pytest.raises(ValueError, match='cannot be loaded safely'):
        load_checkpoint(str(evil))
    commands = [
        ['tools/extract_subnet.py', str(evil), '--subnet', 'min', '--out',
         str(tmp_path / 'x.pth')],
        ['tools/knn_eval.py', CONFIG, str(evil), '--subnets', 'min',
         '--train-dir', f'{fashion_mnist}/train', '--val-dir',
         f'{fashion_mnist}/test'],
        ['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'w'),
         '--resume', str(evil)],
    ]
    for cmd in commands:
        proc = run(cmd, repo_root)
        assert proc.returncode != 0, cmd
        last = proc.stderr.strip().splitlines()[-1]
        assert 'cannot be loaded safely' in last, (cmd, last)
        assert not marker.exists(), cmd
    assert not (tmp_path / 'x.pth').exists()


def test_resume_with_nothing_to_resume_is_an_error(repo_root, tmp_path):
    proc = run(['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'w'),
                '--resume'], repo_root)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'error: --resume: nothing to resume from')
    truncated = tmp_path / 'iter_9.pth'
    truncated.write_bytes(b'PK\x03\x04 not a whole file')
    proc = run(['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'w'),
                '--resume', str(truncated)], repo_root)
    assert proc.returncode != 0
    assert 'cannot be loaded safely' in proc.stderr.strip().splitlines()[-1]


def test_stored_configs_are_data_not_code(tmp_path):
    bad_key = tmp_path / 'bad_key.pth'
    torch.save(poa_like(dict(poa_mm=dict(
        model_type='POA',
        backbone_cfg={'type': 'ElasticViT',
                      "x=__import__('os').system('id')": 1}))), bad_key)
    with pytest.raises(ValueError, match='not a plain name'):
        load_poa_checkpoint(str(bad_key))
    old = tmp_path / 'old.pth'
    ckpt = poa_like({})
    del ckpt['poa_mm']
    ckpt['meta']['cfg'] = "import os\nos.system('id')\n"
    torch.save(ckpt, old)
    with pytest.raises(ValueError, match='no poa_mm metadata'):
        load_poa_checkpoint(str(old))
    sub = tmp_path / 'sub.pth'
    torch.save(dict(state_dict={}, meta=dict(
        backbone_cfg=dict(type='mmpretrain.VisionTransformer'),
        injected="__import__('os')")), sub)
    with pytest.raises(ValueError, match='unknown metadata'):
        load_subnet_checkpoint(str(sub))
    torch.save(dict(state_dict={}, meta=dict(
        backbone_cfg=dict(type='mmdet.SomethingElse'))), sub)
    with pytest.raises(ValueError, match='is not one of'):
        load_subnet_checkpoint(str(sub))
    check_plain(dict(a=[1, 2.0, 'x', None, (True, )]), 'cfg')
    with pytest.raises(ValueError, match='not plain data'):
        check_plain(dict(a=object()), 'cfg')


def test_load_from_another_supernet_is_an_error(repo_root, tmp_path):
    other = tmp_path / 'micro.pth'
    ckpt = poa_like({})
    ckpt['poa_mm']['backbone_cfg'] = dict(type='ElasticViT', arch='micro')
    torch.save(ckpt, other)
    proc = run(['tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'w'),
                '--cfg-options', f'load_from={other}'], repo_root)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "holds the supernet ('ElasticViT', 'micro')" in last
    assert "the config builds ('ElasticViT', 'tiny')" in last

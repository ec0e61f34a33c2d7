"""Nothing lost: no tool writes over one of its inputs (with or without
--overwrite), and a new training run neither overwrites another run's
checkpoints nor shares its work dir with a running one."""
import hashlib
import os
import subprocess
import sys

import pytest
import torch

from poa_mm.apis.training import check_fresh_work_dir, lock_work_dir
from poa_test_helpers.scripts import exit_message, load_script

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'


def digest(path) -> str:
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()



@pytest.fixture
def training_checkpoint(tmp_path):
    path = tmp_path / 'iter_4.pth'
    torch.save(dict(meta=dict(iter=4), state_dict={},
                    poa_mm=dict(model_type='POA', backbone_cfg=dict(
                        type='ElasticViT', arch='tiny'))), path)
    return path


def test_extract_subnet_refuses_to_write_over_its_checkpoint(
        training_checkpoint, tmp_path):
    tool = load_script('tools/extract_subnet.py')
    before = digest(training_checkpoint)
    link = tmp_path / 'link.pth'
    os.symlink(training_checkpoint, link)
    for out in (training_checkpoint, link):
        message = exit_message(tool.main, [
            str(training_checkpoint), '--subnet', 'min', '--out', str(out),
            '--overwrite'])
        assert 'is an input of this command' in message
    # the timm format's .json must not land on the --accuracy file either
    accuracy = tmp_path / 'knn.json'
    accuracy.write_text('[]')
    message = exit_message(tool.main, [
        str(training_checkpoint), '--max-params', '1', '--accuracy',
        str(accuracy), '--format', 'timm', '--out', str(tmp_path / 'knn.st'),
        '--overwrite'])
    assert 'is an input of this command' in message
    assert digest(training_checkpoint) == before
    assert accuracy.read_text() == '[]'


@pytest.mark.parametrize('tool, template', [('tools/to_mmdet.py', 'mask-rcnn'),
                                            ('tools/to_mmseg.py', 'upernet')])
def test_downstream_writers_refuse_to_write_over_their_checkpoint(
        training_checkpoint, tmp_path, tool, template):
    before = digest(training_checkpoint)
    message = exit_message(load_script(tool).main, [
        str(training_checkpoint), '--template', template, '--data-root',
        str(tmp_path), '--out', str(training_checkpoint), '--overwrite'])
    assert 'is an input of this command' in message
    assert digest(training_checkpoint) == before


def test_a_new_run_refuses_a_work_dir_with_another_runs_checkpoints(
        tmp_path):
    work = tmp_path / 'w'
    work.mkdir()
    (work / 'iter_2.pth').write_bytes(b'x')
    error = check_fresh_work_dir(str(work))
    assert 'iter_2.pth' in error and '--resume' in error
    assert '--restart' in error
    assert check_fresh_work_dir(str(work), resume='auto') is None
    assert check_fresh_work_dir(str(work), restart=True) is None
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert check_fresh_work_dir(str(empty)) is None


@pytest.mark.slow
def test_one_writer_per_work_dir_and_no_overwritten_checkpoints(
        repo_root, tmp_path, fashion_mnist):
    work = tmp_path / 'w'
    lock = lock_work_dir(str(work))  # as a running train.py holds it
    env = dict(os.environ, PYTHONPATH=repo_root, OMP_NUM_THREADS='1')

    def run(*extra):
        return subprocess.run(
            [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
             str(work), '--cfg-options',
             f'train_dataloader.dataset.data_root={fashion_mnist}', *extra],
            cwd=repo_root, env=env, capture_output=True,
            text=True, timeout=300)

    proc = run('--restart')
    assert proc.returncode != 0
    assert 'in use by another training run' in proc.stderr
    assert f'pid {os.getpid()}' in proc.stderr
    lock.close()  # the run ended: the lock is free again
    again = lock_work_dir(str(work))
    assert not isinstance(again, str)
    again.close()
    (work / 'iter_2.pth').write_bytes(b'earlier run')
    proc = run()
    assert proc.returncode != 0 and 'holds checkpoints' in proc.stderr
    assert (work / 'iter_2.pth').read_bytes() == b'earlier run'

"""Data from files decides nothing it was not checked for, and bad counts
are refused with one line instead of being written or reported."""
import json
import os

import pytest
import torch
from mmengine.config import Config

from poa_test_helpers.scripts import exit_message, load_script

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'



def test_checkpoint_metadata_cannot_name_another_class(tmp_path):
    from poa_mm.apis.extract import load_poa_checkpoint
    path = tmp_path / 'crafted.pth'
    torch.save(dict(
        state_dict={'teacher.backbone.x': torch.zeros(1)},
        poa_mm=dict(model_type='POA', backbone_cfg=dict(
            type='ResNet', depth=18))), path)
    with pytest.raises(ValueError, match="'ResNet' is not an elastic "
                       'backbone family'):
        load_poa_checkpoint(str(path))
    message = exit_message(load_script('tools/extract_subnet.py').main, [
        str(path), '--subnet', 'min', '--out', str(tmp_path / 'x.pth')])
    assert 'not an elastic backbone family' in message
    assert not (tmp_path / 'x.pth').exists()


def test_generated_configs_cannot_carry_mmengine_placeholders(tmp_path):
    from poa_mm.apis.downstream import write_config
    out = tmp_path / 'det.py'
    for value in ('{{$HOME:x}}', '{{ _base_.model }}', 'a}}b'):
        with pytest.raises(ValueError, match='would be expanded'):
            write_config(Config(dict(subnet=value)), str(out))
        assert not out.exists()
    old = os.umask(0o022)
    try:
        write_config(Config(dict(subnet='128x5', sizes=(1, 2),
                                 path='C:\\new\\g')), str(out))
    finally:
        os.umask(old)
    assert Config.fromfile(str(out)).subnet == '128x5'
    assert oct(out.stat().st_mode & 0o777) == oct(0o644)


def test_knn_rows_of_another_supernet_are_refused(tmp_path, repo_root):
    tool = load_script('tools/list_subnets.py')
    knn = tmp_path / 'knn.json'
    for rows, message in (
            ([dict(subnet='384x12', params_m=21.67, k20=50.)],
             'not a sub-network of this supernet'),
            ([dict(subnet='64x3', params_m=9.9, k20=50.)],
             'another config'),
            ({'subnet': '64x3'}, 'not a list of rows')):
        knn.write_text(json.dumps(rows))
        message_got = exit_message(tool.main, [
            f'{repo_root}/{CONFIG}', '--knn', str(knn), '--out-dir',
            str(tmp_path / 'family')])
        assert message_got == '2' and not (tmp_path / 'family' /
                                           'family.csv').exists(), message


@pytest.mark.parametrize('tool, argv', [
    ('tools/to_mmdet.py', ['--template', 'mask-rcnn', '--max-iters', '-5']),
    ('tools/to_mmdet.py', ['--template', 'mask-rcnn', '--batch-size', '0']),
    ('tools/to_mmdet.py', ['--template', 'mask-rcnn', '--lr', '-1']),
    ('tools/to_mmdet.py', ['--template', 'mask-rcnn', '--img-scale', '0',
                           '0']),
    ('tools/to_mmseg.py', ['--template', 'upernet', '--crop-size', '0']),
    ('tools/to_mmseg.py', ['--template', 'upernet', '--layer-decay', '2']),
])
def test_downstream_writers_refuse_non_positive_settings(tmp_path, tool,
                                                         argv):
    out = tmp_path / 'cfg.py'
    code = exit_message(load_script(tool).main, [
        str(tmp_path / 'sub.pth'), '--data-root', str(tmp_path), '--out',
        str(out), *argv])
    assert code == '2' and not out.exists()


def test_train_refuses_loop_lengths_and_batches_that_are_not_counts():
    train = load_script('tools/train.py')
    for option in ('train_cfg.max_iters=0', 'train_cfg.max_iters=abc',
                   'train_dataloader.batch_size=0'):
        args = train.parse_args([CONFIG, '--cfg-options', option])
        with pytest.raises(ValueError, match='must be a positive integer'):
            train.build_config(args)


def test_evaluation_refuses_an_unwritable_out_dir_before_any_work(
        tmp_path, repo_root):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    ckpt = tmp_path / 'iter_1.pth'
    ckpt.write_bytes(b'not read before the out-dir check')
    for tool in ('tools/knn_eval.py', 'tools/linear_probe.py'):
        message = exit_message(load_script(tool).main, [
            f'{repo_root}/{CONFIG}', str(ckpt), '--out-dir',
            str(blocker / 'sub')])
        assert message.startswith('error: cannot write the results to')


@pytest.mark.parametrize('argv', [['--input-size', '0', '0'],
                                  ['--input-size', '-28', '28'],
                                  ['--input-size', '100000', '100000'],
                                  ['--opset', '1']])
def test_onnx_export_refuses_sizes_and_opsets(tmp_path, argv):
    code = exit_message(load_script('tools/export_onnx.py').main, [
        str(tmp_path / 'sub.pth'), '--out', str(tmp_path / 'x.onnx'),
        *argv])
    assert code == '2' and not (tmp_path / 'x.onnx').exists()


def test_train_refuses_empty_configs_folders_and_a_bare_pytorch_launcher(
        tmp_path, repo_root, monkeypatch):
    train = load_script('tools/train.py')
    empty = tmp_path / 'empty.py'
    empty.write_text('')
    with pytest.raises(ValueError, match='defines no model'):
        train.build_config(train.parse_args([str(empty)]))
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    with pytest.raises(ValueError, match='tools/dist_train.sh'):
        train.build_config(train.parse_args(
            [f'{repo_root}/{CONFIG}', '--launcher', 'pytorch']))
    from poa_mm.apis.config_check import check_data_roots
    (tmp_path / 'images' / 'train').mkdir(parents=True)
    cfg = train.build_config(train.parse_args([
        f'{repo_root}/{CONFIG}', '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path / "images"}']))
    assert 'holds no files' in check_data_roots(cfg)


def test_truncated_or_foreign_checkpoints_are_described_plainly(tmp_path):
    from poa_mm.fileio import load_checkpoint
    whole = tmp_path / 'whole.pth'
    torch.save(dict(state_dict={'w': torch.zeros(64, 64)}), whole)
    data = whole.read_bytes()
    for name, content in (('cut.pth', data[:len(data) // 2]),
                          ('random.pth', os.urandom(256)),
                          ('empty.pth', b'')):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError) as info:
            load_checkpoint(str(path))
        message = str(info.value)
        assert 'not a complete PyTorch checkpoint' in message, message
        assert 'Errno' not in message and 'weights_only' not in message

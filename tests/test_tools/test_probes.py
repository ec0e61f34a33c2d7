"""What a careless or hostile user met in the probe round, each now a
one-line refusal or a correct answer: contradictory resume flags, a work
dir or output that cannot be written, crafted checkpoint metadata (huge,
negative or string sizes), checkpoints that do not fit the config they are
evaluated or tested with, configs of the wrong kind, MMEngine's default
optimizer constructor under POA's schedule, and a loop type changed from
the command line."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import poa_mm
from poa_mm.apis.config_check import check_cfg_options, check_config_keys
from poa_mm.apis.eval_common import load_poa_model
from poa_mm.apis.extract import build_from_metadata, load_subnet_checkpoint
from poa_mm.apis.family import build_meta_backbone
from poa_mm.apis.training import check_weights_fit
from poa_mm.engine.run_metadata import run_metadata
from poa_test_helpers.configs import TINY_CONFIG, micro_runner_cfg
from poa_test_helpers.scripts import exit_message, load_script

VIT = dict(type='mmpretrain.VisionTransformer',
           arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                     feedforward_channels=128),
           img_size=28, patch_size=4)


@pytest.fixture
def subnet(tmp_path):
    """A checkpoint in tools/extract_subnet.py's format."""
    def write(name='sub.pth', **cfg_changes):
        cfg = dict(VIT, **cfg_changes)
        state = MODELS.build(VIT).state_dict()
        path = tmp_path / name
        torch.save(dict(state_dict={f'backbone.{k}': v
                                    for k, v in state.items()},
                        meta=dict(backbone_cfg=cfg, subnet='64x2',
                                  elastic_backbone='ElasticViT',
                                  source='teacher', source_sha256='0' * 64,
                                  poa_mm_version=poa_mm.__version__)),
                   path)
        return str(path)
    return write


@pytest.mark.parametrize('change, expected', [
    (dict(arch=dict(embed_dims=10**9, num_layers=2, num_heads=2,
                    feedforward_channels=10**9)), 'cannot build'),
    (dict(arch=dict(embed_dims=64, num_layers=-2, num_heads=2,
                    feedforward_channels=128)), 'cannot build'),
    (dict(arch=dict(embed_dims='64', num_layers=2, num_heads=2,
                    feedforward_channels=128)), 'cannot build'),
    (dict(img_size=-28), 'img_size must be a positive size, got -28'),
    (dict(arch=dict(embed_dims=96, num_layers=2, num_heads=2,
                    feedforward_channels=128)),
     'meta.backbone_cfg does not match its weights'),
])
def test_crafted_subnet_metadata_is_refused_in_one_line(subnet, change,
                                                        expected):
    path = subnet('crafted.pth', **change)
    with pytest.raises(ValueError) as info:
        load_subnet_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f'{path}: meta.backbone_cfg')
    assert expected in message and '\n' not in message
    assert load_subnet_checkpoint(subnet())['meta']['subnet'] == '64x2'


def test_a_supernet_too_large_to_be_real_is_refused_before_allocation():
    arch = dict(embed_dims=2**20, num_layers=48, head_dims=32, img_size=28,
                patch_size=4, widths=[64, 2**20], depths=[3, 48],
                sample_scale=3)
    with pytest.raises(ValueError, match='asks for ElasticViT with '
                       r'\d+ B parameters \(crafted or corrupt'):
        build_from_metadata(dict(type='ElasticViT', arch=arch), 'meta')


def test_an_output_that_cannot_be_written_is_one_line(subnet, tmp_path,
                                                      fashion_mnist):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    message = exit_message(load_script('tools/to_mmpretrain.py').main, [
        subnet(), '--data-root', fashion_mnist, '--out',
        str(blocker / 'cls.py')])
    assert message == f'error: File exists: {blocker / "cls.py"}'


def test_contradictory_resume_flags_and_an_unusable_work_dir(
        tmp_path, repo_root, fashion_mnist):
    train = load_script('tools/train.py')
    config = osp.join(repo_root, TINY_CONFIG)
    assert exit_message(train.main, [
        config, '--resume', '--restart']).endswith(
            '--restart starts a new one in it: give one')
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    assert exit_message(train.main, [
        config, '--work-dir', str(blocker), '--cfg-options',
        f'train_dataloader.dataset.data_root={fashion_mnist}']) == (
        f'error: cannot use {blocker} as the work dir: File exists')


def test_checkpoints_that_do_not_fit_the_config_are_refused(
        tmp_path, repo_root, fashion_mnist):
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')  # whatever an earlier test left
    cfg = micro_runner_cfg(repo_root, fashion_mnist, tmp_path)
    model = MODELS.build(cfg.model)
    path = tmp_path / 'poa.pth'
    torch.save(dict(state_dict=model.state_dict(), poa_mm=run_metadata(cfg)),
               path)
    assert load_poa_model(cfg, str(path)) is not None
    other = micro_runner_cfg(repo_root, fashion_mnist, tmp_path,
                             prototypes=(96, ))
    with pytest.raises(ValueError, match="does not fit the config's model: "
                       r'.* \(4 tensors differ\): give the config'):
        load_poa_model(other, str(path))
    # tools/test.py and --resume-weights-only: no part left at random.
    assert check_weights_fit(model, str(path), prefix='') is None
    wider = MODELS.build(micro_runner_cfg(
        repo_root, fashion_mnist, tmp_path,
        model=dict(backbone=dict(arch='tiny'),
                   head=dict(in_channels=192))).model)
    error = check_weights_fit(wider, str(path), option='test', prefix='')
    assert error.startswith(f"test: {path} does not hold the config's "
                            'model (')


def test_a_config_without_an_elastic_backbone_is_named():
    with pytest.raises(ValueError, match='mmpretrain.VisionTransformer is '
                       'not an elastic supernet'):
        with torch.device('meta'):
            build_meta_backbone(VIT)


def test_mmengine_default_constructor_is_refused_by_the_schedule(
        tmp_path, repo_root, fashion_mnist):
    config = tmp_path / 'default_constructor.py'
    config.write_text(f'''_base_ = [{osp.join(repo_root, TINY_CONFIG)!r}]
model = dict(backbone=dict(arch='micro'),
             head=dict(in_channels=128, num_prototypes=(64, ),
                       hidden_channels=32, bottleneck_channels=16))
optim_wrapper = dict(_delete_=True, type='POAOptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-3))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={fashion_mnist!r}))
train_cfg = dict(max_iters=1)
''')
    message = exit_message(load_script('tools/train.py').main, [
        str(config), '--work-dir', str(tmp_path / 'w')])
    assert message == (
        'error: POAScheduleHook: optimizer parameter group 0 has no '
        'lr_mult/wd_mult/last_layer/clip_group tags: build the optimizer '
        "with optim_wrapper.constructor='POAOptimWrapperConstructor' "
        "(MMEngine's default constructor drops layer decay, the "
        'weight-decay exemptions and the frozen last layer)')


def test_a_loop_type_changed_on_the_command_line_is_checked_as_that_type(
        repo_root):
    cfg = Config.fromfile(osp.join(repo_root, TINY_CONFIG))
    options = {'train_cfg.type': 'EpochBasedTrainLoop',
               'train_cfg.max_epochs': 1}
    assert check_cfg_options(cfg, options) is None
    cfg.merge_from_dict(options)
    assert check_config_keys(cfg) == (
        "train_cfg: EpochBasedTrainLoop has no setting 'max_iters'; did you "
        "mean 'max_epochs'?")

"""tools/train.py and tools/knn_eval.py on bad inputs met while training:
an unreadable image (named, or skipped on request), a resume with another
head width, a checkpoint that does not fit on the disk, typos under untyped
settings and values of the wrong type. One line each, nothing lost."""
import glob
import os
import resource
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from poa_test_helpers.scripts import load_script, one_line_error

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'


def micro_config(tmp_path, repo_root, prototypes=(64, )) -> str:
    """The tiny recipe on the micro supernet with small heads."""
    path = tmp_path / f'micro_{len(prototypes)}_{prototypes[0]}.py'
    path.write_text(f"""_base_ = [{os.path.join(repo_root, CONFIG)!r}]
model = dict(backbone=dict(arch='micro'),
             head=dict(in_channels=128, num_prototypes={prototypes!r},
                       hidden_channels=32, bottleneck_channels=16))
""")
    return str(path)


def micro_options(data_root, max_iters: int = 2, workers: int = 0) -> list:
    """--cfg-options for a 2-iteration run."""
    return [f'train_dataloader.dataset.data_root={data_root}',
            'train_dataloader.batch_size=4',
            f'train_dataloader.num_workers={workers}',
            f'train_dataloader.persistent_workers={workers > 0}',
            f'train_cfg.max_iters={max_iters}',
            f'default_hooks.checkpoint.interval={max_iters}']


def exit_message(argv, tool: str = 'tools/train.py') -> str:
    return one_line_error(load_script(tool).main, argv)


@pytest.fixture
def small_folder(fashion_mnist, tmp_path):
    """Two classes of three images, one of them truncated."""
    root = tmp_path / 'images'
    for split in ('train', 'test'):
        for label in ('Bag', 'Coat'):
            src = os.path.join(fashion_mnist, split, label)
            dst = root / split / label
            dst.mkdir(parents=True)
            for name in sorted(os.listdir(src))[:3]:
                shutil.copy(os.path.join(src, name), dst / name)
    bad = sorted((root / 'train' / 'Coat').iterdir())[0]
    bad.write_bytes(bad.read_bytes()[:40])
    return root, bad


def test_an_unreadable_image_is_named_or_skipped(small_folder, tmp_path,
                                                 repo_root):
    root, bad = small_folder
    config = micro_config(tmp_path, repo_root)
    # Strict on request, in a DataLoader worker as in real runs (the error
    # arrives wrapped).
    message = exit_message([
        config, '--work-dir', str(tmp_path / 'a'), '--cfg-options',
        *micro_options(root, workers=1),
        'train_dataloader.dataset.pipeline.0.skip_corrupt=False'])
    assert f'cannot read image {bad}' in message and 'skip_corrupt' in message
    # The shipped configs skip, list and count.
    work = tmp_path / 'b'
    load_script('tools/train.py').main([
        config, '--work-dir', str(work), '--cfg-options',
        *micro_options(root, max_iters=4)])
    assert (work / 'unreadable_images.txt').read_text() == f'{bad}\n'
    ckpt = torch.load(work / 'iter_4.pth', weights_only=False)
    assert ckpt['poa_mm']['unreadable_images'] == 1
    (log, ) = glob.glob(str(work / '*' / '*.log'))
    assert '1 unreadable training image(s) skipped so far' in open(log).read()
    # Past max_unreadable (and 10 files) the run stops in one line.
    broken = root / 'train' / 'Coat'
    for i in range(12):
        (broken / f'broken_{i}.png').write_bytes(b'')
    message = exit_message([
        config, '--work-dir', str(tmp_path / 'c'), '--cfg-options',
        *micro_options(root, max_iters=20)])
    assert message.startswith('error: ') and message.endswith(
        'list them with tools/check_images.py FOLDER and remove them')
    assert 'images this loader read are unreadable (more than ' \
        'max_unreadable=0.001)' in message
    # A k-NN bank is never silently shortened (read in a worker too).
    proc = subprocess.run(
        [sys.executable, 'tools/knn_eval.py', config, str(work / 'iter_4.pth'),
         '--subnets', 'max', '--ks', '2', '--num-workers', '1',
         '--train-dir', str(root / 'train'), '--val-dir',
         str(root / 'test'), '--out-dir', str(tmp_path / 'knn'),
         '--device', 'cpu'], cwd=repo_root, capture_output=True, text=True,
        timeout=300, env=dict(os.environ, PYTHONPATH=repo_root))
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert last.startswith(f'error: cannot read image {bad}: '), last


def test_resume_with_another_head_width_is_refused(fashion_mnist, tmp_path,
                                                   repo_root):
    work = tmp_path / 'w'
    load_script('tools/train.py').main([
        micro_config(tmp_path, repo_root), '--work-dir', str(work),
        '--cfg-options', *micro_options(fashion_mnist)])
    message = exit_message([
        micro_config(tmp_path, repo_root, (96, )), '--work-dir', str(work),
        '--resume', '--cfg-options', *micro_options(fashion_mnist, 4)])
    assert message.startswith('error: --resume: the config differs from '
                              'the run of')
    assert 'model.head.num_prototypes (run: [64], config: [96])' in message
    assert '--resume-weights-only' in message
    assert (work / 'last_checkpoint').read_text().strip().endswith(
        'iter_2.pth')


@pytest.mark.parametrize('option, key', [
    ('model.backbone.arch=tiny', 'model.backbone.arch'),
    ('model.backbone.type=ElasticSwin', 'model.backbone.type'),
    ('model.head.num_prototypes=[64,32]', 'model.head.num_prototypes'),
    ('train_dataloader.dataset.pipeline.1.num_local_crops=2',
     'crops.0.num_local_crops'),
    ('train_dataloader.dataset.pipeline.1.global_size=24',
     'crops.0.global_size'),
])
def test_a_changed_recipe_cannot_resume(tmp_path, repo_root, option, key):
    from mmengine.config import Config

    from poa_mm.apis.training import check_resume_recipe
    from poa_mm.engine.run_metadata import run_metadata
    cfg = Config.fromfile(micro_config(tmp_path, repo_root))
    resumed = dict(path='w/iter_2.pth', poa_mm=run_metadata(cfg))
    assert check_resume_recipe(cfg, resumed) is None
    # What a longer or re-tuned schedule changes may differ.
    cfg.merge_from_dict({'train_cfg.max_iters': 9,
                         'optim_wrapper.optimizer.lr': 1e-4,
                         'model.backbone.drop_path_rate': 0.})
    assert check_resume_recipe(cfg, resumed) is None
    cfg.merge_from_dict(_option(option))
    error = check_resume_recipe(cfg, resumed)
    assert error.startswith('--resume: the config differs from the run of '
                            f'w/iter_2.pth in {key} (run: '), error


def _option(option: str) -> dict:
    from mmengine.config import DictAction
    key, value = option.split('=', 1)
    return {key: DictAction._parse_iterable(value)}


def test_resume_weights_only_starts_a_new_run_from_the_weights(
        fashion_mnist, tmp_path, repo_root):
    work = tmp_path / 'w'
    train = load_script('tools/train.py')
    train.main([micro_config(tmp_path, repo_root), '--work-dir', str(work),
                '--cfg-options', *micro_options(fashion_mnist)])
    fewer_crops = 'train_dataloader.dataset.pipeline.1.num_local_crops=2'
    message = exit_message([
        micro_config(tmp_path, repo_root), '--work-dir', str(work),
        '--resume', '--cfg-options', *micro_options(fashion_mnist, 4),
        fewer_crops])
    assert 'crops.0.num_local_crops (run: 4, config: 2)' in message
    new = tmp_path / 'new'
    train.main([micro_config(tmp_path, repo_root), '--work-dir', str(new),
                '--resume-weights-only', str(work / 'iter_2.pth'),
                '--cfg-options', *micro_options(fashion_mnist, 1),
                fewer_crops])
    ckpt = torch.load(new / 'iter_1.pth', weights_only=False)
    assert ckpt['meta']['iter'] == 1  # a new schedule, from iteration 0
    assert ckpt['poa_mm']['recipe']['crops.0.num_local_crops'] == 2
    message = exit_message([
        micro_config(tmp_path, repo_root), '--work-dir', str(new),
        '--resume', '--resume-weights-only', str(work / 'iter_2.pth')])
    assert 'give one' in message


@pytest.mark.parametrize('setting, expected', [
    ("model = dict(lambda_intactt=0.5)",
     "model: POA has no setting 'lambda_intactt'; did you mean "
     "'lambda_intact'?"),
    ("model = dict(backbone=dict(drop_path_rat=0.1))",
     "model.backbone: ElasticViT has no setting 'drop_path_rat'; did you "
     "mean 'drop_path_rate'?"),
    ("custom_hooks = [dict(type='ElasticSamplingHook', sed=1)]",
     "custom_hooks.0: ElasticSamplingHook has no setting 'sed'; did you "
     "mean 'seed'?"),
    ("custom_hooks = [dict(type='POAScheduleHook', lr_scalin={})]",
     "custom_hooks.0: POAScheduleHook has no setting 'lr_scalin'; did you "
     "mean 'lr_scaling'?"),
    ("optim_wrapper = dict(max_grad_nrm=1.)",
     "optim_wrapper: POAOptimWrapper has no setting 'max_grad_nrm'; did you "
     "mean 'max_grad_norm'?"),
    ("train_dataloader = dict(sampler=dict(shufle=False))",
     "train_dataloader.sampler: InfiniteSampler has no setting 'shufle'; "
     "did you mean 'shuffle'?"),
])
def test_a_typo_in_a_config_file_is_refused_with_the_nearest_name(
        tmp_path, repo_root, setting, expected):
    config = tmp_path / 'typo.py'
    config.write_text(f'_base_ = [{micro_config(tmp_path, repo_root)!r}]\n'
                      f'{setting}\n')
    message = exit_message([str(config), '--work-dir', str(tmp_path / 'w')])
    assert message == f'error: {expected}'
    assert not (tmp_path / 'w').exists()


def _file_size_limit(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_a_checkpoint_that_does_not_fit_ends_in_one_line(
        fashion_mnist, tmp_path, repo_root):
    work = tmp_path / 'w'
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', micro_config(tmp_path, repo_root),
         '--work-dir', str(work), '--cfg-options',
         *micro_options(fashion_mnist)],
        cwd=repo_root, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=repo_root, OMP_NUM_THREADS='1'),
        preexec_fn=_file_size_limit(256 * 1024))
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert last.startswith('error: could not write the checkpoint ')
    assert 'iter_2.pth' in last and 'Last good checkpoint: none' in last
    assert 'Traceback' not in proc.stderr
    assert not [f for f in os.listdir(work) if f.endswith('.pth')]


@pytest.fixture
def small_disk(tmp_path):
    """A 32 MiB tmpfs (a real full disk), or None where mounting is not
    allowed."""
    mount = tmp_path / 'disk'
    mount.mkdir()
    proc = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=32m', 'tmpfs',
                           str(mount)], capture_output=True)
    yield mount if proc.returncode == 0 else None
    if proc.returncode == 0:
        subprocess.run(['umount', str(mount)], check=True)


@pytest.mark.slow
@pytest.mark.parametrize('policy', ['stop', 'continue'])
def test_a_full_disk_stops_in_one_line_or_training_goes_on(
        fashion_mnist, tmp_path, repo_root, small_disk, policy,
        monkeypatch):
    import errno
    config = micro_config(tmp_path, repo_root)
    options = [*micro_options(fashion_mnist, max_iters=4),
               'default_hooks.checkpoint.interval=1',
               f'default_hooks.checkpoint.on_save_error={policy}']
    if small_disk is not None:  # checkpoints of about 13 MiB: 2 fit
        work = small_disk / 'w'
        proc = subprocess.run(
            [sys.executable, 'tools/train.py', config, '--work-dir',
             str(work), '--cfg-options', *options], cwd=repo_root,
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, PYTHONPATH=repo_root, OMP_NUM_THREADS='1'))
        code, err = proc.returncode, proc.stdout + proc.stderr
    else:  # the real save path, with the disk full from the third save on
        from mmengine.fileio.backends.local_backend import LocalBackend
        work = tmp_path / 'w'
        put, calls = LocalBackend.put, []

        def full_disk(backend, obj, filepath):
            calls.append(filepath)
            if len(calls) > 2:
                with open(filepath, 'wb') as out:
                    out.write(obj[:len(obj) // 2])
                raise OSError(errno.ENOSPC, 'No space left on device')
            return put(backend, obj, filepath)

        monkeypatch.setattr(LocalBackend, 'put', full_disk)
        code, err = 0, ''
        try:
            load_script('tools/train.py').main([
                config, '--work-dir', str(work), '--cfg-options', *options])
        except SystemExit as e:
            code, err = 1, str(e.code)
    saved = sorted(f for f in os.listdir(work) if f.endswith('.pth'))
    assert len(saved) >= 1 and not [f for f in os.listdir(work)
                                    if f.startswith('.partial-')]
    last = (work / 'last_checkpoint').read_text().strip()
    assert last.endswith(saved[-1]) and torch.load(last, weights_only=False)
    if policy == 'stop':
        assert code == 1 and 'Traceback' not in err, err[-2000:]
        line = err.strip().splitlines()[-1]
        assert line.startswith('error: No space left on device') or \
            line.startswith('error: could not write the checkpoint'), line
        assert 'MiB free on its disk' in line and 'needs about' in line
        if small_disk is not None:
            need = os.path.getsize(last) / 2**20
            assert f'needs about {need:.0f} MiB' in line
        assert line.endswith(f'Last good checkpoint: {last}')
    else:
        assert code == 0, err[-2000:]
        assert "training goes on without it (on_save_error='continue')" \
            in err or small_disk is None


@pytest.mark.parametrize('option, expected', [
    ('custom_hooks.0.lr_scaling.bse_lr=1', "did you mean 'base_lr'?"),
    ('optim_wrapper.paramwise_cfg.layer_decay=0.5',
     "did you mean 'layer_decay_rate'?"),
    ('model.lambda_intact=abc', 'lambda_intact must be a number in'),
    ('custom_hooks.0.lr_scaling.base_lr=-1', 'base_lr must be a number >'),
    ('optim_wrapper.optimizer.lr=-1', 'optimizer.lr must be a number >'),
])
def test_settings_of_the_wrong_name_or_type_are_refused(
        fashion_mnist, tmp_path, repo_root, option, expected):
    message = exit_message([
        micro_config(tmp_path, repo_root), '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', *micro_options(fashion_mnist), option])
    assert expected in message
    assert not (tmp_path / 'w' / 'iter_2.pth').exists()


def test_amp_means_bf16_autocast_for_every_wrapper_it_changes():
    from mmengine.config import Config

    from poa_mm.apis.training import apply_amp
    wrappers = dict(poa=dict(type='POAOptimWrapper'), plain=dict(),
                    fp16=dict(type='AmpOptimWrapper'))
    done = {}
    for name, wrapper in wrappers.items():
        cfg = Config(dict(optim_wrapper=dict(wrapper, optimizer=dict())))
        apply_amp(cfg)
        done[name] = (cfg.optim_wrapper.type, cfg.optim_wrapper.get('dtype'))
    assert done == dict(poa=('POAOptimWrapper', 'bfloat16'),
                        plain=('mmpretrain.BF16AutocastOptimWrapper', None),
                        fp16=('AmpOptimWrapper', None))

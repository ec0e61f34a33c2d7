import numpy as np
import pytest

from poa_mm.engine import POAScheduleHook, cosine_schedule


def test_vit_recipe_truncated_cosine_end_values():
    # The official ViT recipe: iter_num_scale 0.78 truncates the ViT schedules.
    total = 276_800
    lr = cosine_schedule(0.005, 2e-5, total, 8000, iter_num_scale=0.78)
    wd = cosine_schedule(0.04, 0.4, total, iter_num_scale=0.78)
    m = cosine_schedule(0.992, 0.9999, total, iter_num_scale=0.78)
    assert len(lr) == len(wd) == len(m) == total
    assert lr[0] == 0 and lr[7999] == pytest.approx(0.005)
    assert lr[-1] == pytest.approx(6.2e-4, rel=0.02)
    assert wd[-1] == pytest.approx(0.359, abs=1e-3)
    assert m[-1] == pytest.approx(0.99899, abs=1e-5)
    # ResNet's iter_num_scale 1.0 reaches the nominal end.
    m = cosine_schedule(0.992, 0.9999, 1000)
    assert m[0] == pytest.approx(0.992) and m[-1] == pytest.approx(
        0.9999, abs=1e-7)


def test_hook_values_teacher_temp_freeze_and_ibot_start():
    hook = POAScheduleHook(
        max_iters=100, lr=1e-3, warmup_iters=10, teacher_temp=(0.04, 0.07),
        teacher_temp_warmup_iters=30, freeze_last_layer_iters=10,
        ibot_start_iter=30)
    v0, v29, v30, v99 = (hook.values(i) for i in (0, 29, 30, 99))
    assert v0['teacher_temp'] == pytest.approx(0.04)
    assert v29['teacher_temp'] == pytest.approx(0.07)
    assert v99['teacher_temp'] == pytest.approx(0.07)
    assert np.all(np.diff(hook.teacher_temp[:30]) > 0)
    assert v0['last_layer_frozen'] and not hook.values(10)['last_layer_frozen']
    assert not v29['ibot_active'] and v30['ibot_active']
    assert v0['momentum'] == pytest.approx(0.992)
    assert v99['momentum'] > v30['momentum'] > v0['momentum']


def test_lr_from_the_global_batch_by_the_official_sqrt_rule():
    from poa_mm.engine import scaled_lr
    assert scaled_lr(0.004, 32 * 50) == pytest.approx(0.005)
    assert scaled_lr(0.004, 8 * 50) == pytest.approx(0.0025)
    assert scaled_lr(0.004, 32 * 64) == pytest.approx(0.005657, rel=1e-4)
    assert scaled_lr(0.004, 2048, rule='linear') == pytest.approx(0.008)
    assert scaled_lr(1., 8, 4) / scaled_lr(1., 4, 4) == pytest.approx(2**0.5)
    with pytest.raises(ValueError, match='rule'):
        scaled_lr(0.004, 1024, rule='cubic')
    # Without lr or lr_scaling, the official rule.
    assert POAScheduleHook(max_iters=10).lr_scaling == dict(
        base_lr=0.004, ref_batch=1024, rule='sqrt')


def test_a_poa_config_without_the_schedule_hook_stops_at_its_first_step(
        repo_root, fashion_mnist, tmp_path):
    from mmengine.runner import Runner

    from poa_test_helpers.configs import micro_runner_cfg
    cfg = micro_runner_cfg(repo_root, fashion_mnist, tmp_path, max_iters=1,
                           prototypes=(32, ))
    cfg.custom_hooks = [dict(type='ElasticSamplingHook')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match='add POAScheduleHook'):
        runner.train()
    assert not (tmp_path / 'iter_1.pth').exists()


def test_phases_in_epochs_follow_the_batch(repo_root, fashion_mnist,
                                           tmp_path):
    """The GPU demo's recipe (phases in epochs, epoch-based loop) at two
    batch sizes: the same phases in images, the lr by the sqrt rule."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from poa_mm.engine.model_wrapper import unwrap_model
    gpu = Config.fromfile(
        f'{repo_root}/configs/poa/poa_vit-tiny_1xb256-3e_fashion-mnist.py')
    hooks = {}
    for batch in (4, 8):
        cfg = gpu.copy()
        cfg.merge_from_dict(dict(
            work_dir=str(tmp_path / str(batch)),
            model=dict(backbone=dict(arch='micro'),
                       head=dict(in_channels=128, num_prototypes=(32, ),
                                 hidden_channels=32, bottleneck_channels=16)),
            train_dataloader=dict(batch_size=batch, num_workers=0,
                                  persistent_workers=False,
                                  dataset=dict(data_root=fashion_mnist)),
            train_cfg=dict(max_epochs=1),
            default_hooks=dict(checkpoint=dict(interval=1))))
        cfg.custom_hooks = cfg.custom_hooks[:2]  # no family evaluation
        runner = Runner.from_cfg(cfg)
        runner.train()
        hook = next(h for h in runner.hooks
                    if isinstance(h, POAScheduleHook))
        hooks[batch] = hook
        # 200 images: 50 or 25 iterations per epoch; 0.3 / 0.9 epochs.
        per_epoch = 200 // batch
        assert runner.max_iters == per_epoch
        assert hook.settings['warmup_iters'] == round(0.3 * per_epoch)
        assert hook.ibot_start_iter == round(0.9 * per_epoch)
        assert hook.freeze_last_layer_iters == round(0.3 * per_epoch)
        assert unwrap_model(runner.model).teacher_temp == pytest.approx(0.02)
        assert (tmp_path / str(batch) / 'epoch_1.pth').exists()
    assert hooks[8].peak_lr / hooks[4].peak_lr == pytest.approx(2**0.5)
    assert hooks[4].peak_lr == pytest.approx(3e-3 * (4 / 256)**0.5)


def test_phases_in_iterations_or_epochs_not_both():
    with pytest.raises(ValueError, match='not both'):
        POAScheduleHook(lr=1e-3, warmup_iters=10, warmup_epochs=1.)
    with pytest.raises(ValueError, match='ibot_start_iter in epochs'):
        POAScheduleHook(lr=1e-3, ibot_start_epoch=-1.)

import numpy as np
import pytest

from poa_mm.engine import POAScheduleHook, cosine_schedule


def test_vit_recipe_truncated_cosine_end_values():
    # POA_SPEC 5: iter_num_scale 0.78 truncates the ViT schedules.
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
    with pytest.raises(ValueError, match='lr or lr_scaling'):
        POAScheduleHook(max_iters=10)


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

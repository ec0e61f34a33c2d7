"""A hook for tests: a slow iteration, so that a signal surely arrives
inside one."""
import time

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class SleepHook(Hook):
    """Sleeps ``seconds`` before every iteration from ``from_iter`` on."""

    def __init__(self, from_iter: int, seconds: float):
        self.from_iter, self.seconds = from_iter, seconds

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter >= self.from_iter:
            time.sleep(self.seconds)

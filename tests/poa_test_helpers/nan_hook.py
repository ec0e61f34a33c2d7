"""A hook for tests: poisons a backbone weight from a given iteration on."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class PoisonWeightsHook(Hook):
    """Sets the student's position embedding to NaN before iteration
    ``at_iter`` (0-based), so every later loss is NaN."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            model = runner.model.module if is_model_wrapper(
                runner.model) else runner.model
            with torch.no_grad():
                model.backbone.pos_embed.fill_(float('nan'))

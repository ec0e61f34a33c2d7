"""Engine pieces for fine-tuning extracted sub-networks downstream
(MMDetection / MMSegmentation configs refer to them as ``mmpretrain.X``)."""
import torch
import torch.nn as nn
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpretrain.registry import (
    HOOKS,
    OPTIM_WRAPPER_CONSTRUCTORS,
    OPTIM_WRAPPERS,
    OPTIMIZERS,
)

from ..fileio import load_checkpoint
from .model_wrapper import unwrap_model
from .param_groups import layer_decay_scale, no_weight_decay


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BackboneLayerDecayOptimWrapperConstructor(
        DefaultOptimWrapperConstructor):
    """Layer-wise lr decay for any model with a ``backbone`` that has
    ``get_layer_depth`` (ViT, Swin, ResNet), e.g. detectors and segmentors.

    Backbone parameter at depth ``i`` of ``n`` gets ``lr * decay ** (n - 1 -
    i)``; other parameters the base lr. Biases, norms and other 1-D
    parameters get no weight decay.

    ``paramwise_cfg``: ``layer_decay_rate`` (default 1.0).
    """

    def __call__(self, model: nn.Module):
        model = unwrap_model(model)
        decay = (self.paramwise_cfg or {}).get('layer_decay_rate', 1.)
        backbone = model.backbone
        groups = []
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            scale = layer_decay_scale(backbone, name, decay) \
                if name.startswith('backbone.') else 1.
            groups.append(
                dict(params=[param], lr=self.base_lr * scale,
                     weight_decay=0. if no_weight_decay(model, name, param)
                     else self.base_wd))
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(
            self.optim_wrapper_cfg, default_args=dict(optimizer=optimizer))


@HOOKS.register_module()
class PretrainedBackboneCheckHook(Hook):
    """Fail before training unless the backbone holds exactly the weights
    of ``checkpoint`` (MMEngine's ``Pretrained`` init loads non-strictly and
    only warns). Skipped when resuming.

    Args:
        checkpoint (str): A checkpoint written by tools/extract_subnet.py.
        prefix (str): Defaults to 'backbone.'.
    """
    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: str, prefix: str = 'backbone.'):
        self.checkpoint = checkpoint
        self.prefix = prefix

    def before_train(self, runner) -> None:
        if runner.iter > 0:
            return
        expected = load_checkpoint(self.checkpoint)['state_dict']
        expected = {
            k[len(self.prefix):]: v
            for k, v in expected.items() if k.startswith(self.prefix)
        }
        actual = unwrap_model(runner.model).backbone.state_dict()
        missing = sorted(set(actual) - set(expected))
        unused = sorted(set(expected) - set(actual))
        differ = sorted(
            k for k in set(actual) & set(expected)
            if actual[k].shape != expected[k].shape
            or not torch.equal(actual[k].cpu(), expected[k].to(
                actual[k].dtype)))
        if missing or unused or differ:
            raise RuntimeError(
                f'The backbone does not hold the weights of '
                f'{self.checkpoint}: missing {missing[:5]}, unused '
                f'{unused[:5]}, different {differ[:5]}')
        if is_main_process():
            print_log(f'Backbone weights verified against {self.checkpoint} '
                      f'({len(expected)} tensors)', logger='current')

"""The two per-parameter rules every optimizer constructor here applies
(layer-wise lr decay, the weight-decay exemption), and the tags POA's
parameter groups carry for the schedule hook."""
import torch.nn as nn
from torch import Tensor

from ..utils import SettingError

# Tags of every parameter group POAOptimWrapperConstructor builds:
# multipliers of the scheduled lr and weight decay, the heads' last layer
# (frozen at the start), and the gradient-clipping group.
LR_MULT, WD_MULT, LAST_LAYER, CLIP_GROUP = ('lr_mult', 'wd_mult',
                                           'last_layer', 'clip_group')
GROUP_TAGS = (LR_MULT, WD_MULT, LAST_LAYER, CLIP_GROUP)


def check_group_tags(param_groups, where: str) -> None:
    """``SettingError`` (one line) for parameter groups without POA's tags:
    an optimizer built by MMEngine's default constructor, which would train
    without layer decay, weight-decay exemptions or the frozen last layer
    and say nothing."""
    for i, group in enumerate(param_groups):
        missing = [tag for tag in GROUP_TAGS if tag not in group]
        if missing:
            raise SettingError(
                f'{where}: optimizer parameter group {i} has no '
                f'{"/".join(missing)} tags: build the optimizer with '
                "optim_wrapper.constructor='POAOptimWrapperConstructor' "
                "(MMEngine's default constructor drops layer decay, the "
                'weight-decay exemptions and the frozen last layer)')


def layer_decay_scale(backbone: nn.Module, name: str, decay: float,
                      prefix: str = 'backbone.') -> float:
    """``decay ** (n - 1 - depth)`` for a backbone parameter at layer
    ``depth`` of ``n`` (``get_layer_depth``); 1 when ``decay`` is 1."""
    if decay == 1.:
        return 1.
    depth, num_layers = backbone.get_layer_depth(name, prefix)
    return decay**(num_layers - 1 - depth)


def no_weight_decay(module: nn.Module, name: str, param: Tensor) -> bool:
    """Whether weight decay skips ``param`` (``name`` relative to
    ``module``): biases, norms and LayerScale, i.e. the 1-D parameters
    (DINOv2 / POA), except those a module lists as decayed in its class
    attribute ``decayed_1d_params`` (name suffixes; ElasticResNet's shortcut
    norm, as the official code)."""
    decayed = tuple(getattr(module, 'decayed_1d_params', ()))
    return param.ndim == 1 and not (decayed and name.endswith(decayed))

"""The two per-parameter rules every optimizer constructor here applies:
layer-wise lr decay and the weight-decay exemption."""
import torch.nn as nn
from torch import Tensor


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

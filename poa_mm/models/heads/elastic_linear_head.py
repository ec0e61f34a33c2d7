"""A linear classification head whose input follows the active
sub-network's width."""
from typing import Dict, Tuple

import torch.nn.functional as F
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ElasticLinearClsHead(LinearClsHead):
    """``LinearClsHead`` sized for the intact network that classifies a
    narrower feature with the first columns of its weight
    (``fc.weight[:, :width]``, the prefix slicing of POA's elastic
    backbones), so that every sub-network exports as a stock
    ``LinearClsHead`` (:meth:`export`).

    Args:
        num_classes (int): Number of classes.
        in_channels (int): The intact network's feature width.
        **kwargs: ``LinearClsHead``'s (loss, topk, init_cfg, ...).
    """

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        x = self.pre_logits(feats)
        width = x.shape[-1]
        if width > self.in_channels:
            raise ValueError(f'ElasticLinearClsHead: a feature of width '
                             f'{width} is wider than in_channels='
                             f'{self.in_channels}')
        return F.linear(x, self.fc.weight[:, :width], self.fc.bias)

    def export(self, width: int) -> Tuple[dict, Dict[str, Tensor]]:
        """``(LinearClsHead config, its state dict)`` for a ``width``-wide
        feature: what this head computes on it."""
        cfg = dict(type='mmpretrain.LinearClsHead',
                   num_classes=self.num_classes, in_channels=width,
                   loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
                   topk=self.topk)
        state = dict(weight=self.fc.weight[:, :width].detach().clone(),
                     bias=self.fc.bias.detach().clone())
        return cfg, {f'fc.{k}': v for k, v in state.items()}

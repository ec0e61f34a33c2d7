"""POA's multiple DINO projection heads with an elastic first layer."""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.registry import MODELS
from torch import Tensor
from torch.nn.utils.parametrizations import weight_norm

from poa_mm.elastic.slicing import input_scale, slice_linear


class ProjectionHead(nn.Module):
    """One DINO head: 3-layer MLP, L2 norm, weight-normed prototypes.

    The first Linear is elastic: an input of width ``w < in_channels`` uses
    the weight columns ``[:, :w]`` scaled by ``in_channels / w`` (POA).
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 bottleneck_channels: int, num_prototypes: int):
        super().__init__()
        self.in_channels = in_channels
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.GELU(),
            nn.Linear(hidden_channels, hidden_channels), nn.GELU(),
            nn.Linear(hidden_channels, bottleneck_channels))
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                nn.init.zeros_(m.bias)
        # The prototypes keep PyTorch's default Linear init, as the official
        # head (its trunc_normal init runs before the last layer exists).
        last = nn.Linear(bottleneck_channels, num_prototypes, bias=False)
        self.last_layer = weight_norm(last)
        # DINOv2: the norm starts at 1 and stays trainable.
        self.last_layer.parametrizations.weight.original0.data.fill_(1.)

    def forward(self, x: Tensor) -> Tensor:
        first = self.mlp[0]
        width = x.shape[-1]
        weight, bias = slice_linear(first.weight, first.bias,
                                    first.out_features, width,
                                    input_scale(self.in_channels, width))
        x = F.linear(x, weight, bias)
        for layer in self.mlp[1:]:
            x = layer(x)
        eps = 1e-6 if x.dtype == torch.float16 else 1e-12
        x = F.normalize(x, dim=-1, eps=eps)
        return self.last_layer(x)



@MODELS.register_module()
class MultiProjectionHead(BaseModule):
    """``len(num_prototypes)`` independent DINO heads (POA's MPH), shared by
    the intact and elastic students and by the iBOT patch loss.

    Args:
        in_channels (int): The supernet's maximum feature width.
        num_prototypes (Sequence[int]): Prototype count of each head.
            Defaults to (8192, 16384, 32768, 65536) (the paper).
        hidden_channels (int): Defaults to 2048.
        bottleneck_channels (int): Defaults to 256.
    """

    def __init__(self,
                 in_channels: int,
                 num_prototypes: Sequence[int] = (8192, 16384, 32768, 65536),
                 hidden_channels: int = 2048,
                 bottleneck_channels: int = 256,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.heads = nn.ModuleList(
            ProjectionHead(in_channels, hidden_channels, bottleneck_channels,
                           k) for k in num_prototypes)

    def __len__(self) -> int:
        return len(self.heads)

    def forward(self, x: Tensor) -> List[Tensor]:
        """Logits of every head for features ``x`` (rows, w <= in_channels)."""
        return [head(x) for head in self.heads]

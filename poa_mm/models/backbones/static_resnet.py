"""A plain GroupNorm bottleneck ResNet with free per-stage depths and widths.

The standard backbone for POA ResNet sub-networks that ``mmpretrain.ResNet``
cannot express (its depths come from a fixed table and its bottleneck width
must divide the output width). Parameter names are those of
``mmpretrain.ResNet`` with ``norm_cfg=dict(type='GN', num_groups=32)``.
"""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from torch import Tensor

from poa_mm.layers import GNBottleneck


@MODELS.register_module()
class POAStaticResNet(BaseModule):
    """GroupNorm bottleneck ResNet (a POA ResNet sub-network).

    Args:
        stage_blocks (Sequence[int]): Blocks per stage.
        mid_channels (Sequence[int]): Bottleneck width per stage.
        out_channels (Sequence[int]): Output width per stage.
            Defaults to (256, 512, 1024, 2048).
        stem_channels (int): Defaults to 64.
        in_channels (int): Defaults to 3.
        strides (Sequence[int]): Defaults to (1, 2, 2, 2).
        out_indices (Sequence[int]): Defaults to (3, ).
        num_groups (int): GroupNorm groups. Defaults to 32.
        frozen_stages (int): Stages (0 = stem) kept frozen. Defaults to -1.
    """

    def __init__(self,
                 stage_blocks: Sequence[int],
                 mid_channels: Sequence[int],
                 out_channels: Sequence[int] = (256, 512, 1024, 2048),
                 stem_channels: int = 64,
                 in_channels: int = 3,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 out_indices: Sequence[int] = (3, ),
                 num_groups: int = 32,
                 frozen_stages: int = -1,
                 init_cfg=None):
        super().__init__(init_cfg)
        if not len(stage_blocks) == len(mid_channels) == len(out_channels) \
                == len(strides):
            raise ValueError('stage_blocks, mid_channels, out_channels and '
                             'strides need one entry per stage')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, 2, 3,
                               bias=False)
        self.gn1 = nn.GroupNorm(num_groups, stem_channels)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.res_layers = []
        prev = stem_channels
        for i, (n, mid, out, stride) in enumerate(
                zip(stage_blocks, mid_channels, out_channels, strides)):
            blocks = [
                GNBottleneck(prev if j == 0 else out, mid, out,
                             stride if j == 0 else 1, num_groups)
                for j in range(n)
            ]
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.res_layers.append(f'layer{i + 1}')
            prev = out
        self._freeze_stages()

    def _freeze_stages(self):
        modules = [self.conv1, self.gn1] if self.frozen_stages >= 0 else []
        modules += [
            getattr(self, name)
            for name in self.res_layers[:max(self.frozen_stages, 0)]
        ]
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth for layer-wise lr decay: stem 0, then each block in
        order, the rest last."""
        blocks = [len(getattr(self, name)) for name in self.res_layers]
        num_layers = sum(blocks) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith(('conv1', 'gn1')):
            return 0, num_layers
        if name.startswith('layer'):
            stage, block = name.split('.')[:2]
            stage = int(stage[len('layer'):]) - 1
            return sum(blocks[:stage]) + int(block) + 1, num_layers
        return num_layers - 1, num_layers

    def forward(self, x: Tensor) -> tuple:
        x = self.maxpool(F.relu(self.gn1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

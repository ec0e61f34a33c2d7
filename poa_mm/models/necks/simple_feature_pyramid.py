"""Multi-scale features for a plain ViT in MMDetection (the POA paper's
detection setting, after ViTDet)."""
from typing import Sequence

import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


@MODELS.register_module()
class POASimpleFeaturePyramid(BaseModule):
    """Four same-stride ViT block outputs turned into strides 4/8/16/32
    (deconv x4, deconv x2, identity, max-pool; as POA's and iBOT's detection
    code), then an MMDetection FPN.

    Args:
        in_channels (int): ViT width.
        out_channels (int): FPN width. Defaults to 256.
        num_outs (int): FPN outputs. Defaults to 5.
    """

    def __init__(self, in_channels: int, out_channels: int = 256,
                 num_outs: int = 5, init_cfg=None):
        super().__init__(init_cfg)
        from mmdet.registry import MODELS as DET_MODELS
        c = in_channels
        self.scales = nn.ModuleList([
            nn.Sequential(
                nn.ConvTranspose2d(c, c, 2, 2), nn.GroupNorm(32 if c % 32 == 0
                                                             else 1, c),
                nn.GELU(), nn.ConvTranspose2d(c, c, 2, 2)),
            nn.ConvTranspose2d(c, c, 2, 2),
            nn.Identity(),
            nn.MaxPool2d(2, 2),
        ])
        self.fpn = DET_MODELS.build(
            dict(type='FPN', in_channels=[c] * 4, out_channels=out_channels,
                 num_outs=num_outs))

    def forward(self, inputs: Sequence):
        if len(inputs) != 4:
            raise ValueError(f'expected 4 ViT feature maps, got {len(inputs)}')
        return self.fpn([scale(x) for scale, x in zip(self.scales, inputs)])

"""The GroupNorm bottleneck of POA's ResNets (static and elastic)."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class GNBottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 bottleneck with GroupNorm."""

    def __init__(self, in_channels: int, mid_channels: int,
                 out_channels: int, stride: int, num_groups: int):
        super().__init__()
        self.num_groups = num_groups
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 1, bias=False)
        self.gn1 = nn.GroupNorm(num_groups, mid_channels)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, 3, stride, 1,
                               bias=False)
        self.gn2 = nn.GroupNorm(num_groups, mid_channels)
        self.conv3 = nn.Conv2d(mid_channels, out_channels, 1, bias=False)
        self.gn3 = nn.GroupNorm(num_groups, out_channels)
        self.stride = stride
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.GroupNorm(num_groups, out_channels))

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.gn1(self.conv1(x)))
        out = F.relu(self.gn2(self.conv2(out)))
        out = self.gn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)

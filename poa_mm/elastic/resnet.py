"""ElasticResNet: POA's GroupNorm bottleneck ResNet supernet."""
import itertools
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.backbones.resnet import ResNet
from mmpretrain.models.utils import to_2tuple
from mmpretrain.registry import MODELS
from torch import Tensor

from ..layers import GNBottleneck
from .base import NORM_FLOPS, ElasticBackboneMixin
from .search_space import (SearchSpace, block_renumbering,
                           evenly_spaced_indices)
from .slicing import (export_state_dict, input_scale, slice_channels,
                      slice_linear)
from .spec import SubnetSpec


class BlockSlice(NamedTuple):
    """The active bottleneck width of one block and POA's input scale."""
    mid: int
    scale: float


def _mid_rows(t: Tensor, g: BlockSlice) -> Tensor:
    return slice_channels(t, g.mid, dim=0)


def _full(t: Tensor, g: BlockSlice) -> Tensor:
    return t


# One rule per block parameter (names of mmpretrain's GN ResNet), shared by
# the elastic forward and the export.
RESNET_BLOCK_RULES: Dict[str, Callable[[Tensor, BlockSlice], Tensor]] = {
    'conv1.weight': _mid_rows,
    'gn1.weight': _mid_rows,
    'gn1.bias': _mid_rows,
    'conv2.weight': lambda t, g: slice_linear(t, None, g.mid, g.mid,
                                              g.scale)[0],
    'gn2.weight': _mid_rows,
    'gn2.bias': _mid_rows,
    'conv3.weight': lambda t, g: slice_linear(t, None, t.shape[0], g.mid,
                                              g.scale)[0],
    'gn3.weight': _full,
    'gn3.bias': _full,
    'downsample.0.weight': _full,
    'downsample.1.weight': _full,
    'downsample.1.bias': _full,
}


def resnet_search_space(widths, stage_depths, elastic_stages, presets=None,
                        sample_scale: float = 2.) -> SearchSpace:
    """POA's ResNet space: width x depth configs of the elastic stages.

    Depth configs sorted by total depth; config k gets
    ``round(linspace(S, 1, n)[k])`` copies; the width is not reweighted.
    """
    choices = [range(lo, stage_depths[s] + 1) for s, lo in elastic_stages]
    configs = sorted(itertools.product(*choices), key=sum)
    copies = np.round(np.linspace(sample_scale, 1, len(configs))).astype(int)
    sampling = [
        SubnetSpec(w, depths) for w in widths
        for depths, n in zip(configs, copies) for _ in range(n)
    ]
    return SearchSpace(widths, [list(c) for c in choices], sampling, presets)


class ElasticBottleneck(GNBottleneck):
    """A bottleneck whose mid width is elastic (prefix slice, POA scale):
    the parameters of :class:`GNBottleneck`, sliced in ``forward``."""

    def _p(self, name: str, g: BlockSlice) -> Tensor:
        return RESNET_BLOCK_RULES[name](self.get_parameter(name), g)

    def _gn(self, x: Tensor, name: str, g: BlockSlice) -> Tensor:
        return F.group_norm(x, self.num_groups, self._p(f'{name}.weight', g),
                            self._p(f'{name}.bias', g))

    def forward(self, x: Tensor, g: BlockSlice) -> Tensor:
        out = F.relu(self._gn(F.conv2d(x, self._p('conv1.weight', g)), 'gn1',
                              g))
        out = F.conv2d(out, self._p('conv2.weight', g), stride=self.stride,
                       padding=1)
        out = F.relu(self._gn(out, 'gn2', g))
        out = self._gn(F.conv2d(out, self._p('conv3.weight', g)), 'gn3', g)
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


@MODELS.register_module()
class ElasticResNet(ElasticBackboneMixin, BaseBackbone):
    """Elastic GroupNorm ResNet of `POA <https://arxiv.org/abs/2408.01031>`_.

    The bottleneck mid width ``w * 2**stage`` is elastic and tied across
    stages (prefix slice; conv2 and conv3 inputs scaled by ``max / w``);
    the depths of the elastic stages keep evenly spaced blocks (the first
    always). Output widths, stem and shortcuts are fixed. Every
    sub-network exports to ``mmpretrain.ResNet`` (GN) when that class can
    express it, and to :class:`POAStaticResNet` otherwise; both use the same
    parameter names.

    Args:
        arch (str | dict): 'paper' (wide R152: depths (3, 8, 36, 3), mid
            widths 64..128 step 32, stage 2 depth 4..8, stage 3 depth 6..36;
            465 sub-networks) or 'tiny' (CPU-sized), or a dict with keys
            ``stage_blocks``, ``out_channels``, ``stem_channels``,
            ``widths``, ``elastic_stages`` ([(stage, min depth)...]).
        in_channels (int): Defaults to 3.
        num_groups (int): GroupNorm groups. Defaults to 32.
        out_indices (Sequence[int]): Stage outputs of :meth:`forward`.
            Defaults to (3, ).
        subnet (str, optional): Active after construction. Defaults to the
            intact network.
    """
    # As the official code: the shortcut GroupNorm's weight (no 'norm' in
    # its official name) is decayed; other 1-D parameters are not.
    decayed_1d_params = ('downsample.1.weight', )

    arch_zoo = {
        'paper': dict(
            stage_blocks=(3, 8, 36, 3), out_channels=(256, 512, 1024, 2048),
            stem_channels=64, widths=(64, 96, 128),
            elastic_stages=((1, 4), (2, 6)), sample_scale=2,
            presets={'r50': '64-4-6', 'r101': '64-4-23',
                     'r152': '64-8-36'}),
        'tiny': dict(
            stage_blocks=(1, 3, 4, 1), out_channels=(64, 128, 256, 512),
            stem_channels=32, widths=(32, 64), elastic_stages=((1, 2),
                                                               (2, 2)),
            sample_scale=2),
    }
    small_supernet = dict(arch='tiny')

    def __init__(self,
                 arch='paper',
                 in_channels: int = 3,
                 num_groups: int = 32,
                 out_indices=(3, ),
                 subnet: Optional[str] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        a = self.arch_settings = self._resolve_arch(
            arch, ('stage_blocks', 'out_channels', 'stem_channels', 'widths',
                   'elastic_stages'))
        self.stage_blocks = tuple(a['stage_blocks'])
        self.out_channels_per_stage = tuple(a['out_channels'])
        self.stem_channels = a['stem_channels']
        self.widths = tuple(sorted(a['widths']))
        self.max_width = self.widths[-1]
        self.elastic_stages = tuple(s for s, _ in a['elastic_stages'])
        self.in_channels = in_channels
        self.num_groups = num_groups
        self.out_indices = tuple(out_indices)
        self.search_space = resnet_search_space(
            self.widths, self.stage_blocks, a['elastic_stages'],
            self._parse_presets(a),
            a.get('sample_scale', 2))

        self.conv1 = nn.Conv2d(in_channels, self.stem_channels, 7, 2, 3,
                               bias=False)
        self.gn1 = nn.GroupNorm(num_groups, self.stem_channels)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.mask_token = nn.Parameter(
            torch.zeros(1, self.stem_channels, 1, 1))
        prev = self.stem_channels
        self.res_layers = []
        for i, (n, out) in enumerate(
                zip(self.stage_blocks, self.out_channels_per_stage)):
            mid = self.max_width * 2**i
            blocks = [
                ElasticBottleneck(prev if j == 0 else out, mid, out,
                                  (1 if i == 0 else 2) if j == 0 else 1,
                                  num_groups) for j in range(n)
            ]
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.res_layers.append(f'layer{i + 1}')
            prev = out
        self.set_subnet(subnet or self.search_space.intact)

    # ------------------------------------------------------ sub-networks
    def stage_depths(self, spec: SubnetSpec) -> List[int]:
        depths = list(self.stage_blocks)
        for stage, d in zip(self.elastic_stages, spec.depths):
            depths[stage] = d
        return depths

    def set_subnet(self, spec) -> SubnetSpec:
        spec = self.search_space.resolve(spec)
        self.active_subnet = spec
        self._geometry, self._blocks = resnet_geometry(
            spec, self.stage_blocks, self.stage_depths(spec), self.max_width)
        return spec

    @property
    def out_channels(self) -> int:
        return self.out_channels_per_stage[-1]

    @property
    def max_out_channels(self) -> int:
        return self.out_channels_per_stage[-1]

    # ---------------------------------------------------------- forward
    def _stages(self, x: Tensor, mask: Optional[Tensor]):
        x = self.maxpool(F.relu(self.gn1(self.conv1(x))))
        if mask is not None:
            mask = F.interpolate(mask[:, None].float(), size=x.shape[2:],
                                 mode='nearest').bool()
            x = torch.where(mask, self.mask_token.to(x.dtype), x)
        for i, name in enumerate(self.res_layers):
            layer = getattr(self, name)
            for j in self._blocks[i]:
                x = layer[j](x, self._geometry[i])
            yield i, x

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> tuple:
        return tuple(out for i, out in self._stages(x, mask)
                     if i in self.out_indices)

    def forward_tokens(self, x: Tensor, mask: Optional[Tensor] = None,
                       grid: Optional[Tuple[int, int]] = None
                       ) -> Tuple[Tensor, Tensor]:
        """Pooled last-stage feature (N, C) and the last-stage map resized
        (nearest) to ``grid`` as patch tokens (N, h*w, C)."""
        for _, out in self._stages(x, mask):
            pass
        cls = out.mean(dim=(2, 3))
        if grid is not None:
            out = F.interpolate(out, size=tuple(grid), mode='nearest')
        return cls, out.flatten(2).transpose(1, 2)

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth for layer-wise lr decay: stem 0, then every block of
        the supernet in order, the rest with the last block.

        As the official ``get_resnet_lr_decay_rate``, the multiplier is
        ``decay ** (n_blocks - layer_id)``: the last block is not decayed
        (one step less than the ViT/Swin rule ``n_blocks + 1 - layer_id``).
        """
        num_layers = sum(self.stage_blocks) + 1
        name = param_name[len(prefix):] if param_name.startswith(
            prefix) else None
        if name is None:
            return num_layers - 1, num_layers
        if name.startswith(('conv1', 'gn1', 'mask_token')):
            return 0, num_layers
        if name.startswith('layer'):
            stage, block = name.split('.')[:2]
            stage = int(stage[len('layer'):]) - 1
            return sum(self.stage_blocks[:stage]) + int(block) + 1, num_layers
        return num_layers - 1, num_layers

    @classmethod
    def downstream_spec(cls, stock_cfg: dict) -> dict:
        """What dense-prediction configs need of an exported GN ResNet:
        four stage maps into FPN, no layer-wise lr decay."""
        if 'out_channels' in stock_cfg:
            channels = list(stock_cfg['out_channels'])
        else:
            channels = [stock_cfg['base_channels'] * stock_cfg['expansion']
                        * 2**i for i in range(4)]
        return dict(feature_channels=channels, det_neck=None, seg_neck=None,
                    drop_path_rate=None, frozen_stages=4, small=False,
                    layer_decay=False)

    @classmethod
    def classification_spec(cls, stock_cfg: dict) -> dict:
        """An exported GN ResNet in an ``ImageClassifier``: the last
        stage average-pooled into the linear head, no layer decay."""
        channels = cls.downstream_spec(stock_cfg)['feature_channels']
        return dict(backbone={}, neck=dict(type='GlobalAveragePooling'),
                    in_channels=channels[-1], drop_path_rate=None,
                    small=False, layer_decay=False)

    def dense_export_kwargs(self, spec) -> dict:
        """Every stage as a feature map (FPN input)."""
        return dict(out_indices=(0, 1, 2, 3))

    def flops(self, spec, input_size=None) -> int:
        """Multiply-adds of the exported GN ResNet on one image
        (``input_size``, default 224): every conv and GroupNorm
        (``NORM_FLOPS`` per element), as MMEngine's ``FlopAnalyzer``
        counts them (pooling, ReLU and additions are not counted)."""
        spec = self.search_space.resolve(spec)
        h, w = to_2tuple(input_size or 224)

        def down(x, k, s, p):
            return (x + 2 * p - k) // s + 1

        h, w = down(h, 7, 2, 3), down(w, 7, 2, 3)
        total = h * w * self.stem_channels * (self.in_channels * 49 +
                                             NORM_FLOPS)
        h, w = down(h, 3, 2, 1), down(w, 3, 2, 1)
        prev = self.stem_channels
        for i, (depth, out) in enumerate(
                zip(self.stage_depths(spec), self.out_channels_per_stage)):
            mid = spec.width * 2**i
            for j in range(depth):
                stride = (1 if i == 0 else 2) if j == 0 else 1
                ho, wo = down(h, 3, stride, 1), down(w, 3, stride, 1)
                total += h * w * mid * (prev + NORM_FLOPS)  # conv1, gn1
                total += ho * wo * mid * (9 * mid + NORM_FLOPS)  # conv2, gn2
                total += ho * wo * out * (mid + NORM_FLOPS)  # conv3, gn3
                if j == 0 and (stride != 1 or prev != out):
                    total += ho * wo * out * (prev + NORM_FLOPS)  # shortcut
                h, w, prev = ho, wo, out
        return total

    # ----------------------------------------------------------- export
    def export_subnet(self, spec, out_indices=(3, )
                      ) -> Tuple[dict, Dict[str, Tensor]]:
        """Cut a sub-network out as a standard GN ResNet.

        ``mmpretrain.ResNet`` when its depth table and integer expansion
        express the sub-network, else ``mmpretrain.POAStaticResNet``.
        """
        spec = self.search_space.resolve(spec)
        depths = tuple(self.stage_depths(spec))
        mids = [spec.width * 2**i for i in range(len(depths))]
        outs = self.out_channels_per_stage
        stock_depth = {
            tuple(blocks): d
            for d, (_, blocks) in ResNet.arch_settings.items()
        }.get(depths)
        expansion = outs[0] // mids[0]
        if (stock_depth is not None and stock_depth >= 50
                and all(o == m * expansion for o, m in zip(outs, mids))):
            cfg = dict(
                type='mmpretrain.ResNet', depth=stock_depth,
                in_channels=self.in_channels,
                stem_channels=self.stem_channels, base_channels=mids[0],
                expansion=expansion, out_indices=tuple(out_indices),
                norm_cfg=dict(type='GN', num_groups=self.num_groups,
                              requires_grad=True))
        else:
            cfg = dict(
                type='mmpretrain.POAStaticResNet', stage_blocks=depths,
                mid_channels=mids, out_channels=outs,
                stem_channels=self.stem_channels,
                in_channels=self.in_channels, out_indices=tuple(out_indices),
                num_groups=self.num_groups)
        return cfg, export_resnet_state_dict(self.state_dict(), spec,
                                             self.stage_blocks, depths,
                                             self.max_width)


def resnet_geometry(spec: SubnetSpec, stage_blocks, depths, max_width: int
                    ) -> Tuple[List[BlockSlice], List[List[int]]]:
    """The active geometry of a sub-network, for both the elastic forward
    (``set_subnet``) and the export: each stage's slice (mid channels, input
    scale) and its kept blocks' indices."""
    scale = input_scale(max_width, spec.width)
    geometry = [
        BlockSlice(spec.width * 2**i, scale) for i in range(len(stage_blocks))
    ]
    blocks = [
        evenly_spaced_indices(n, d) for n, d in zip(stage_blocks, depths)
    ]
    return geometry, blocks


def export_resnet_state_dict(state_dict: Dict[str, Tensor], spec: SubnetSpec,
                             stage_blocks, depths,
                             max_width: int) -> Dict[str, Tensor]:
    """Slice an ElasticResNet state dict to a standard GN ResNet's."""
    geometry, kept = resnet_geometry(spec, stage_blocks, depths, max_width)
    keep = [block_renumbering(blocks) for blocks in kept]

    def place(name: str):
        if not name.startswith('layer'):
            return name, name, None  # stem and the rest: copied as they are
        layer, block, local = name.split('.', 2)
        stage = int(layer[len('layer'):]) - 1
        if int(block) in keep[stage]:
            return (f'{layer}.{keep[stage][int(block)]}.{local}', local,
                    geometry[stage])

    def slice_tensor(local: str, tensor: Tensor, g) -> Tensor:
        return tensor if g is None else RESNET_BLOCK_RULES[local](tensor, g)

    return export_state_dict(state_dict, place, slice_tensor)

"""ElasticSwin: a Swin Transformer supernet whose sub-networks are stock
``mmpretrain.SwinTransformer`` models."""
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.backbones.swin_transformer import SwinBlockSequence
from mmpretrain.models.utils import ShiftWindowMSA, to_2tuple
from mmpretrain.registry import MODELS
from torch import Tensor

from .base import NORM_FLOPS, ElasticBackboneMixin
from .search_space import (SearchSpace, block_renumbering,
                           evenly_spaced_indices, grid_search_space)
from .slicing import (
    TransformerSlice,
    export_state_dict,
    input_scale,
    slice_channels,
    slice_linear,
    slice_rows,
    transformer_slice_rules,
)
from .spec import SubnetSpec


# One rule per parameter (names of mmpretrain's SwinTransformer without the
# ``stages.S.blocks.J.`` / ``stages.S.`` prefix); shared by the elastic
# forward and the export.
SWIN_SLICE_RULES: Dict[str, Callable[[Tensor, TransformerSlice], Tensor]] = {
    'norm1.weight': slice_rows,
    'norm1.bias': slice_rows,
    'norm2.weight': slice_rows,
    'norm2.bias': slice_rows,
    **transformer_slice_rules('attn.w_msa'),
    'attn.w_msa.relative_position_bias_table': lambda t, g: slice_channels(
        t, g.heads, dim=1),
    'attn.w_msa.relative_position_index': lambda t, g: t,
    # Patch merging unfolds channel-major (index c * 4 + k), so the active
    # inputs of a C-wide stage are the prefix [:4C].
    'downsample.norm.weight': lambda t, g: slice_channels(t, 4 * g.width, 0),
    'downsample.norm.bias': lambda t, g: slice_channels(t, 4 * g.width, 0),
    'downsample.reduction.weight': lambda t, g: slice_linear(
        t, None, 2 * g.width, 4 * g.width, g.scale)[0],
    'patch_embed.projection.weight': slice_rows,
    'patch_embed.projection.bias': slice_rows,
    'patch_embed.norm.weight': slice_rows,
    'patch_embed.norm.bias': slice_rows,
    'norm.weight': slice_rows,
    'norm.bias': slice_rows,
}


def slice_swin_tensor(name: str, tensor: Tensor,
                      g: TransformerSlice) -> Tensor:
    return SWIN_SLICE_RULES[name](tensor, g)


@MODELS.register_module()
class ElasticSwin(ElasticBackboneMixin, BaseBackbone):
    """Elastic Swin Transformer of `POA <https://arxiv.org/abs/2408.01031>`_.

    Width ``w`` (stage ``s`` has ``w * 2**s`` channels and the first
    ``w * 2**s / head_dims`` heads) and the depth of stage 3 are elastic;
    weights are prefix-sliced with POA's input scaling ``C / w``. Two
    deliberate choices (against the official code) make every sub-network
    a stock ``mmpretrain.SwinTransformer`` (custom arch dict,
    ``pad_small_map=True``): shifted windows alternate by position among the
    kept blocks, and the patch-embedding LayerNorm normalises over the
    active width. Parameter names mirror the stock class.

    Args:
        arch (str | dict): 'base' (the paper: C 128, depths (2, 2, 18, 2),
            widths 96/112/128, stage-3 depth 6..18, 39 sub-networks),
            'tiny' (CPU-sized) or a dict with ``embed_dims``, ``depths``,
            ``head_dims``, ``widths``, ``stage3_depths``.
        img_size (int): Defaults to 224.
        patch_size (int): Defaults to 4.
        in_channels (int): Defaults to 3.
        window_size (int): Defaults to 7.
        drop_path_rate (float): Linear over the supernet's blocks, indexed
            by original position. Defaults to 0.
        out_indices (Sequence[int]): Stage outputs of :meth:`forward`
            (normed maps). Defaults to (3, ).
        subnet (str, optional): Active after construction.
    """
    arch_zoo = {
        'base': dict(
            embed_dims=128, depths=(2, 2, 18, 2), head_dims=16,
            widths=(96, 112, 128), stage3_depths=tuple(range(6, 19)),
            sample_scale=2,
            presets={'swin-t': '96x6', 'swin-s': '96x18',
                     'swin-b': '128x18'}),
        'tiny': dict(
            embed_dims=32, depths=(2, 2, 6, 2), head_dims=8,
            widths=(16, 24, 32), stage3_depths=tuple(range(2, 7)),
            sample_scale=2),
    }
    # 56 px: 14x14 patches, so stages 1-2 use real shifted windows.
    small_supernet = dict(arch='tiny', img_size=56)
    elastic_stage = 2

    def __init__(self,
                 arch='base',
                 img_size: int = 224,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 window_size: int = 7,
                 drop_path_rate: float = 0.,
                 out_indices=(3, ),
                 subnet: Optional[str] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        a = self.arch_settings = self._resolve_arch(
            arch, ('embed_dims', 'depths', 'head_dims', 'widths',
                   'stage3_depths'))
        self.embed_dims = a['embed_dims']
        self.depths = tuple(a['depths'])
        self.head_dims = a['head_dims']
        self.img_size, self.patch_size = img_size, patch_size
        self.in_channels = in_channels
        self.window_size = window_size
        self.out_indices = tuple(out_indices)
        widths = sorted(a['widths'])
        if widths[-1] != self.embed_dims or any(w % self.head_dims
                                                for w in widths):
            raise ValueError(f'ElasticSwin widths must be multiples of '
                             f'head_dims {self.head_dims} ending at '
                             f'{self.embed_dims}; got {widths}')
        self.search_space: SearchSpace = grid_search_space(
            widths, sorted(a['stage3_depths']), a.get('sample_scale', 2),
            self._parse_presets(a))

        C = self.embed_dims
        self.patch_embed = PatchEmbed(
            in_channels=in_channels, input_size=img_size, embed_dims=C,
            conv_type='Conv2d', kernel_size=patch_size, stride=patch_size,
            norm_cfg=dict(type='LN'))
        self.mask_token = nn.Parameter(torch.zeros(1, C))
        rates = np.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        self.stages = nn.ModuleList()
        for s, depth in enumerate(self.depths):
            dims = C * 2**s
            self.stages.append(
                SwinBlockSequence(
                    embed_dims=dims, depth=depth,
                    num_heads=dims // self.head_dims,
                    window_size=window_size,
                    downsample=s < len(self.depths) - 1,
                    drop_paths=rates[sum(self.depths[:s]):][:depth],
                    pad_small_map=True))
        for i in range(len(self.depths)):
            self.add_module(f'norm{i}', nn.LayerNorm(C * 2**i))
        self.set_subnet(subnet or self.search_space.intact)

    # ------------------------------------------------------ sub-networks
    def stage_depths(self, spec: SubnetSpec) -> List[int]:
        depths = list(self.depths)
        depths[self.elastic_stage] = spec.depth
        return depths

    def set_subnet(self, spec) -> SubnetSpec:
        spec = self.search_space.resolve(spec)
        self.active_subnet = spec
        self._geometry, self._blocks = swin_geometry(
            spec, self.depths, self.stage_depths(spec), self.embed_dims,
            self.head_dims)
        return spec

    @property
    def out_channels(self) -> int:
        return self._geometry[-1].width

    @property
    def max_out_channels(self) -> int:
        return self.embed_dims * 2**(len(self.depths) - 1)

    # ---------------------------------------------------------- forward
    @staticmethod
    def _p(module: nn.Module, name: str,
           g: TransformerSlice) -> Optional[Tensor]:
        try:
            t = module.get_parameter(name)
        except AttributeError:
            try:
                t = module.get_buffer(name)
            except AttributeError:
                return None
        return slice_swin_tensor(name, t, g)

    def _window_attention(self, block, x: Tensor, hw, shift: bool,
                          g: TransformerSlice) -> Tensor:
        """``ShiftWindowMSA`` (pad_small_map=True) with sliced weights."""
        B, L, C = x.shape
        H, W = hw
        ws = self.window_size
        shift_size = ws // 2 if shift else 0
        x = x.view(B, H, W, C)
        x = F.pad(x, (0, 0, 0, (ws - W % ws) % ws, 0, (ws - H % ws) % ws))
        Hp, Wp = x.shape[1], x.shape[2]
        if shift_size:
            x = torch.roll(x, shifts=(-shift_size, -shift_size), dims=(1, 2))
        mask = ShiftWindowMSA.get_attn_mask((Hp, Wp), ws, shift_size,
                                            device=x.device)
        windows = ShiftWindowMSA.window_partition(x, ws).view(-1, ws * ws, C)

        p = lambda n: self._p(block, f'attn.w_msa.{n}', g)
        Bw, N, _ = windows.shape
        qkv = F.linear(windows, p('qkv.weight'), p('qkv.bias'))
        qkv = qkv.reshape(Bw, N, 3, g.heads, C // g.heads).permute(
            2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * (C // g.heads)**-0.5) @ k.transpose(-2, -1)
        bias = p('relative_position_bias_table')[p(
            'relative_position_index').view(-1)].view(N, N, -1)
        attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            nW = mask.shape[0]
            attn = attn.view(Bw // nW, nW, g.heads, N, N) + \
                mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, g.heads, N, N)
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(Bw, N, C)
        out = F.linear(out, p('proj.weight'), p('proj.bias'))

        out = ShiftWindowMSA.window_reverse(out.view(-1, ws, ws, C), Hp, Wp,
                                            ws)
        if shift_size:
            out = torch.roll(out, shifts=(shift_size, shift_size), dims=(1, 2))
        return out[:, :H, :W, :].reshape(B, H * W, C)

    def _block(self, block, x: Tensor, hw, shift: bool,
               g: TransformerSlice) -> Tensor:
        p = lambda n: self._p(block, n, g)
        drop = block.attn.drop  # DropPath of the original position
        h = F.layer_norm(x, (g.width, ), p('norm1.weight'), p('norm1.bias'))
        x = x + drop(self._window_attention(block, h, hw, shift, g))
        h = F.layer_norm(x, (g.width, ), p('norm2.weight'), p('norm2.bias'))
        h = F.gelu(F.linear(h, p('ffn.layers.0.0.weight'),
                            p('ffn.layers.0.0.bias')))
        h = F.linear(h, p('ffn.layers.1.weight'), p('ffn.layers.1.bias'))
        return x + block.ffn.dropout_layer(h)

    def _merge(self, stage, x: Tensor, hw, g: TransformerSlice):
        """``PatchMerging`` (2x2, channel-major unfold) with sliced weights."""
        B, L, C = x.shape
        H, W = hw
        x = x.view(B, H, W, C).permute(0, 3, 1, 2)
        x = F.pad(x, (0, W % 2, 0, H % 2))  # 'corner' adaptive padding
        x = F.unfold(x, kernel_size=2, stride=2).transpose(1, 2)
        out_hw = ((H + 1) // 2, (W + 1) // 2)
        p = lambda n: self._p(stage, n, g)
        x = F.layer_norm(x, (4 * C, ), p('downsample.norm.weight'),
                         p('downsample.norm.bias'))
        return F.linear(x, p('downsample.reduction.weight')), out_hw

    def _embed(self, x: Tensor, mask: Optional[Tensor]):
        g = self._geometry[0]
        p = lambda n: self._p(self, n, g)
        H, W = x.shape[2:]
        ps = self.patch_size
        x = F.pad(x, (0, -W % ps, 0, -H % ps))
        x = F.conv2d(x, p('patch_embed.projection.weight'),
                     p('patch_embed.projection.bias'), stride=ps)
        hw = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)
        x = F.layer_norm(x, (g.width, ), p('patch_embed.norm.weight'),
                         p('patch_embed.norm.bias'))
        if mask is not None:
            mask = F.interpolate(mask[:, None].float(), size=hw,
                                 mode='nearest').bool().flatten(1)
            token = slice_channels(self.mask_token, g.width).to(x.dtype)
            x = torch.where(mask[..., None], token, x)
        return x, hw

    def _stages(self, x: Tensor, mask: Optional[Tensor]):
        x, hw = self._embed(x, mask)
        for s, stage in enumerate(self.stages):
            g = self._geometry[s]
            for position, j in enumerate(self._blocks[s]):
                x = self._block(stage.blocks[j], x, hw, position % 2 == 1, g)
            norm = getattr(self, f'norm{s}')
            normed = F.layer_norm(x, (g.width, ),
                                  slice_swin_tensor('norm.weight',
                                                    norm.weight, g),
                                  slice_swin_tensor('norm.bias', norm.bias,
                                                    g))
            yield s, normed, hw
            if stage.downsample is not None:
                x, hw = self._merge(stage, x, hw, g)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> tuple:
        """Normed stage maps (N, C_s, H_s, W_s) at ``out_indices``."""
        return tuple(
            out.transpose(1, 2).reshape(out.shape[0], -1, *hw)
            for s, out, hw in self._stages(x, mask) if s in self.out_indices)

    def forward_tokens(self, x: Tensor, mask: Optional[Tensor] = None,
                       grid: Optional[Tuple[int, int]] = None
                       ) -> Tuple[Tensor, Tensor]:
        """Mean of the normed last stage (N, 8w) and its map resized
        (nearest) to ``grid`` as patch tokens (N, h*w, 8w)."""
        for _, out, hw in self._stages(x, mask):
            pass
        cls = out.mean(dim=1)
        if grid is not None:
            fmap = out.transpose(1, 2).reshape(out.shape[0], -1, *hw)
            out = F.interpolate(fmap, size=tuple(grid),
                                mode='nearest').flatten(2).transpose(1, 2)
        return cls, out

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth for layer-wise lr decay: patch embedding 0, then
        every block of the supernet in order, the rest last."""
        num_layers = sum(self.depths) + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed', 'mask_token')):
            return 0, num_layers
        if name.startswith('stages'):
            parts = name.split('.')
            stage = int(parts[1])
            if parts[2] == 'blocks':
                return sum(self.depths[:stage]) + int(parts[3]) + 1, \
                    num_layers
            # Patch merging sits one layer above its stage's last block
            # (official ``get_swin_lr_decay_rate``).
            return sum(self.depths[:stage + 1]) + 1, num_layers
        return num_layers - 1, num_layers

    @classmethod
    def downstream_spec(cls, stock_cfg: dict) -> dict:
        """What dense-prediction configs need of an exported Swin: four
        stage maps (C, 2C, 4C, 8C) into FPN, drop path 0.2."""
        width = stock_cfg['arch']['embed_dims']
        return dict(feature_channels=[width * 2**i for i in range(4)],
                    det_neck=None, seg_neck=None, drop_path_rate=0.2,
                    frozen_stages=4, small=width <= 96, layer_decay=True)

    @classmethod
    def classification_spec(cls, stock_cfg: dict) -> dict:
        """An exported Swin in an ``ImageClassifier``: its stage maps
        (those it was exported with: every norm it holds stays used)
        average-pooled, the last into the linear head, drop path 0.2."""
        width = stock_cfg['arch']['embed_dims']
        return dict(backbone={}, neck=dict(type='GlobalAveragePooling'),
                    in_channels=width * 8, drop_path_rate=0.2,
                    small=width <= 96, layer_decay=True)

    def dense_export_kwargs(self, spec) -> dict:
        """Every stage as a feature map (FPN input)."""
        return dict(out_indices=(0, 1, 2, 3))

    def flops(self, spec, input_size=None, out_indices=(3, )) -> int:
        """Multiply-adds of the exported ``SwinTransformer`` on one image
        (``input_size``, default ``img_size``), as MMEngine's
        ``FlopAnalyzer`` counts them: patch embedding and merging, qkv and
        proj on the window-padded map, window attention, FFN and
        LayerNorms (5 per element)."""
        spec = self.search_space.resolve(spec)
        size = input_size or self.img_size
        h, w = map(int, to_2tuple(size))
        p, ws = self.patch_size, self.window_size
        h, w = -(-h // p), -(-w // p)
        c = spec.width
        total = h * w * c * (self.in_channels * p * p + NORM_FLOPS)
        depths = self.stage_depths(spec)
        for i, depth in enumerate(depths):
            padded = (-(-h // ws) * ws) * (-(-w // ws) * ws)
            block = (padded * c * 4 * c  # qkv, proj on the padded map
                     + 2 * padded * ws * ws * c  # QK^T and AV per window
                     + h * w * c * (2 * 4 * c + 2 * NORM_FLOPS))  # FFN, norms
            total += depth * block
            if i in out_indices:
                total += NORM_FLOPS * h * w * c
            if i < len(depths) - 1:  # patch merging: LN(4c), 4c -> 2c
                h, w = -(-h // 2), -(-w // 2)
                total += h * w * 4 * c * (NORM_FLOPS + 2 * c)
                c *= 2
        return total

    # ----------------------------------------------------------- export
    def export_subnet(self, spec, out_indices=(3, )
                      ) -> Tuple[dict, Dict[str, Tensor]]:
        """Cut a sub-network out as a stock ``mmpretrain.SwinTransformer``."""
        spec = self.search_space.resolve(spec)
        depths = self.stage_depths(spec)
        cfg = dict(
            type='mmpretrain.SwinTransformer',
            arch=dict(
                embed_dims=spec.width,
                depths=depths,
                num_heads=[
                    spec.width * 2**s // self.head_dims
                    for s in range(len(depths))
                ]),
            img_size=self.img_size,
            patch_size=self.patch_size,
            in_channels=self.in_channels,
            window_size=self.window_size,
            drop_path_rate=0.,
            out_indices=tuple(out_indices),
            pad_small_map=True)
        return cfg, export_swin_state_dict(self.state_dict(), spec,
                                           self.depths, depths,
                                           self.embed_dims, self.head_dims,
                                           out_indices)


def swin_geometry(spec: SubnetSpec, max_depths, depths, max_width: int,
                  head_dims: int
                  ) -> Tuple[List[TransformerSlice], List[List[int]]]:
    """The active geometry of a sub-network, for both the elastic forward
    (``set_subnet``) and the export: each stage's slice (width, FFN width,
    heads, input scale) and its kept blocks' indices."""
    scale = input_scale(max_width, spec.width)
    widths = [spec.width * 2**s for s in range(len(max_depths))]
    geometry = [TransformerSlice(w, 4 * w, w // head_dims, scale)
                for w in widths]
    blocks = [evenly_spaced_indices(n, d) for n, d in zip(max_depths, depths)]
    return geometry, blocks


def export_swin_state_dict(state_dict: Dict[str, Tensor], spec: SubnetSpec,
                           max_depths, depths, max_width: int,
                           head_dims: int, out_indices=(3, )
                           ) -> Dict[str, Tensor]:
    """Slice an ElasticSwin state dict to a stock SwinTransformer's."""
    geometry, kept = swin_geometry(spec, max_depths, depths, max_width,
                                   head_dims)
    keep = [block_renumbering(blocks) for blocks in kept]

    def place(name: str):
        if name.startswith('stages.'):
            _, s, rest = name.split('.', 2)
            s = int(s)
            if not rest.startswith('blocks.'):
                return name, rest, geometry[s]
            _, j, local = rest.split('.', 2)
            if int(j) in keep[s]:
                return (f'stages.{s}.blocks.{keep[s][int(j)]}.{local}', local,
                        geometry[s])
        elif name.startswith('norm') and name[4].isdigit():
            s = int(name[4])
            if s in out_indices:
                return name, 'norm.' + name.split('.')[1], geometry[s]
        else:
            return name, name, geometry[0]

    return export_state_dict(state_dict, place, slice_swin_tensor)


def _batch_safe_window_reverse(windows: Tensor, H: int, W: int,
                               window_size: int) -> Tensor:
    x = windows.view(-1, H // window_size, W // window_size, window_size,
                     window_size, windows.shape[-1])
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(
        -1, H, W, windows.shape[-1])


@contextmanager
def batch_safe_swin_export():
    """While exporting a stock ``SwinTransformer`` (ONNX), replace
    mmpretrain's ``ShiftWindowMSA.window_reverse``, whose ``int()`` on the
    batch dimension freezes it in the exported graph (a dynamic-batch
    export is then silently wrong at other batch sizes), by the same
    computation with the batch inferred."""
    original = ShiftWindowMSA.__dict__['window_reverse']
    ShiftWindowMSA.window_reverse = staticmethod(_batch_safe_window_reverse)
    try:
        yield
    finally:
        ShiftWindowMSA.window_reverse = original

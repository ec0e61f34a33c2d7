"""ElasticViT: a Vision Transformer supernet whose sub-networks are stock
``mmpretrain.VisionTransformer`` models."""
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import to_2tuple
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
    slice_rows,
    transformer_slice_rules,
)
from .spec import SubnetSpec
from .vit_convert import (TIMM_ARCHITECTURE, interpolate_pos_embed,
                          supernet_state_from_vit, timm_vit_state_dict)


def _last(t: Tensor, s: TransformerSlice) -> Tensor:
    return slice_channels(t, s.width, dim=-1)


# One rule per parameter (local name inside the ViT, block prefix removed).
# Both the elastic forward and the export read the sub-network through it.
VIT_SLICE_RULES: Dict[str, Callable[[Tensor, TransformerSlice], Tensor]] = {
    'cls_token': _last,
    'pos_embed': _last,
    'mask_token': _last,
    'patch_embed.projection.weight': slice_rows,
    'patch_embed.projection.bias': slice_rows,
    'ln1.weight': slice_rows,
    'ln1.bias': slice_rows,
    'ln2.weight': slice_rows,
    'ln2.bias': slice_rows,
    **transformer_slice_rules('attn'),
    'attn.gamma1.weight': slice_rows,
    'ffn.gamma2.weight': slice_rows,
}


def slice_vit_tensor(name: str, tensor: Tensor,
                     geometry: TransformerSlice) -> Tensor:
    """Slice one ViT parameter, named as in ``mmpretrain.VisionTransformer``
    without its ``layers.N.`` prefix, to the sub-network ``geometry``."""
    return VIT_SLICE_RULES[name](tensor, geometry)


class _Scale(nn.Module):
    """LayerScale parameters named like ``mmpretrain``'s ``LayerScale``."""

    def __init__(self, dims: int, init_value: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full((dims, ), float(init_value)))


class _Attention(nn.Module):

    def __init__(self, dims: int, qkv_bias: bool, layer_scale: float):
        super().__init__()
        self.qkv = nn.Linear(dims, dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(dims, dims)
        self.gamma1 = _Scale(dims, layer_scale)


class _FFN(nn.Module):

    def __init__(self, dims: int, hidden: int, layer_scale: float):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(dims, hidden)), nn.Linear(hidden, dims))
        self.gamma2 = _Scale(dims, layer_scale)


def _add_residual(x: Tensor, branch: Callable[[Tensor], Tensor], rate: float,
                  training: bool) -> Tensor:
    """``x + branch(x)`` with DINOv2's stochastic depth.

    Above a rate of 0.1 the branch runs on a random subset of
    ``int(N * (1 - rate))`` samples and its output is scaled by
    ``N / subset`` (batch-subset stochastic depth); otherwise per-sample
    drop path.
    """
    if not training or rate <= 0:
        return x + branch(x)
    n = x.shape[0]
    if rate > 0.1:
        keep = max(int(n * (1 - rate)), 1)
        idx = torch.randperm(n, device=x.device)[:keep]
        residual = branch(x[idx]).to(x.dtype)
        out = torch.index_add(
            x.flatten(1), 0, idx, residual.flatten(1), alpha=n / keep)
        return out.view_as(x)
    keep_mask = x.new_empty((n, ) + (1, ) * (x.ndim - 1)).bernoulli_(1 - rate)
    return x + branch(x) * keep_mask / (1 - rate)


class ElasticTransformerLayer(nn.Module):
    """One encoder layer with parameters named as in ``mmpretrain``."""

    def __init__(self, dims: int, hidden: int, head_dims: int,
                 qkv_bias: bool, layer_scale: float, norm_eps: float,
                 drop_path_rate: float):
        super().__init__()
        self.head_dims = head_dims
        self.norm_eps = norm_eps
        self.drop_path_rate = drop_path_rate
        self.ln1 = nn.LayerNorm(dims, eps=norm_eps)
        self.attn = _Attention(dims, qkv_bias, layer_scale)
        self.ln2 = nn.LayerNorm(dims, eps=norm_eps)
        self.ffn = _FFN(dims, hidden, layer_scale)

    def _p(self, name: str, geometry: TransformerSlice) -> Optional[Tensor]:
        try:
            param = self.get_parameter(name)
        except AttributeError:  # e.g. no qkv bias
            return None
        return slice_vit_tensor(name, param, geometry)

    def _norm(self, x: Tensor, name: str, g: TransformerSlice) -> Tensor:
        return F.layer_norm(x, (g.width, ), self._p(f'{name}.weight', g),
                            self._p(f'{name}.bias', g), self.norm_eps)

    def _attention(self, x: Tensor, g: TransformerSlice) -> Tensor:
        B, N, _ = x.shape
        x = self._norm(x, 'ln1', g)
        qkv = F.linear(x, self._p('attn.qkv.weight', g),
                       self._p('attn.qkv.bias', g))
        qkv = qkv.reshape(B, N, 3, g.heads,
                          self.head_dims).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        x = x.transpose(1, 2).reshape(B, N, g.width)
        x = F.linear(x, self._p('attn.proj.weight', g),
                     self._p('attn.proj.bias', g))
        return x * self._p('attn.gamma1.weight', g)

    def _mlp(self, x: Tensor, g: TransformerSlice) -> Tensor:
        x = self._norm(x, 'ln2', g)
        x = F.gelu(
            F.linear(x, self._p('ffn.layers.0.0.weight', g),
                     self._p('ffn.layers.0.0.bias', g)))
        x = F.linear(x, self._p('ffn.layers.1.weight', g),
                     self._p('ffn.layers.1.bias', g))
        return x * self._p('ffn.gamma2.weight', g)

    def forward(self, x: Tensor, geometry: TransformerSlice) -> Tensor:
        x = _add_residual(x, lambda t: self._attention(t, geometry),
                          self.drop_path_rate, self.training)
        return _add_residual(x, lambda t: self._mlp(t, geometry),
                             self.drop_path_rate, self.training)


@MODELS.register_module()
class ElasticViT(ElasticBackboneMixin, BaseBackbone):
    """Elastic Vision Transformer of `POA <https://arxiv.org/abs/2408.01031>`_.

    A supernet whose every sub-network (width ``w``, depth ``d``) is cut out
    by prefix slicing of the weights, the first ``w / head_dims`` heads of
    q, k and v, evenly spaced blocks, and POA's input scaling
    ``alpha = D / w`` on every width-sliced input. Parameter names mirror
    ``mmpretrain.VisionTransformer`` so :meth:`export_subnet` turns any
    sub-network into a stock ``VisionTransformer`` (custom arch dict,
    LayerScale on) that computes exactly the same function.

    Args:
        arch (str | dict): A name in :attr:`arch_zoo` or a dict with keys
            ``embed_dims``, ``num_layers``, ``head_dims``, ``widths``,
            ``depths`` and optionally ``mlp_ratio`` (4), ``sample_scale``
            (3) and ``presets`` ({name: spec string}). Defaults to 'large'.
        img_size (int): The input size the position embedding is built
            for. Other sizes (POA's 96 px local crops) resize it by the
            official rule (:func:`interpolate_pos_embed`). An exported
            ``VisionTransformer`` equals the elastic model at this size; at
            other sizes it resizes with mmpretrain's ``resize_pos_embed``
            (``size=``), which samples slightly differently. Defaults to
            None (the arch's).
        patch_size (int): Defaults to None (the arch's).
        in_channels (int): Defaults to 3.
        out_indices (Sequence[int] | int): Outputs of :meth:`forward`,
            indices into the blocks of the *active* sub-network.
            Defaults to -1.
        out_type (str): 'cls_token', 'raw' or 'featmap'.
            Defaults to 'cls_token'.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        drop_path_uniform (bool): Same rate in every block (POA/DINOv2)
            instead of a linear ramp over the supernet's blocks.
            Defaults to True.
        qkv_bias (bool): Defaults to True.
        layer_scale_init_value (float): Defaults to 1e-5.
        norm_eps (float): LayerNorm eps. Defaults to 1e-6.
        final_norm (bool): Defaults to True.
        interpolate_mode (str): Position-embedding interpolation.
            Defaults to 'bicubic'.
        subnet (str, optional): The sub-network active after construction.
            Defaults to None (the intact network).
        init_cfg (dict, optional): Defaults to None.
    """
    arch_zoo = {
        'large': dict(
            embed_dims=1024, num_layers=24, head_dims=64, img_size=224,
            patch_size=16, widths=list(range(384, 1025, 64)),
            depths=list(range(12, 25)), sample_scale=3,
            presets={'vit-s': '384x12', 'vit-b': '768x12',
                     'vit-l': '1024x24'}),
        'base': dict(
            embed_dims=768, num_layers=12, head_dims=64, img_size=224,
            patch_size=16, widths=list(range(384, 769, 64)),
            depths=list(range(6, 13)), sample_scale=3,
            presets={'vit-s': '384x12', 'vit-b': '768x12'}),
        # CPU-sized supernets (28-32 px inputs, patch 4).
        'tiny': dict(
            embed_dims=192, num_layers=6, head_dims=32, img_size=28,
            patch_size=4, widths=[64, 96, 128, 160, 192],
            depths=[3, 4, 5, 6], sample_scale=3),
        'micro': dict(
            embed_dims=128, num_layers=4, head_dims=32, img_size=28,
            patch_size=4, widths=[64, 96, 128], depths=[2, 3, 4],
            sample_scale=3),
    }
    small_supernet = dict(arch='tiny')
    arch_zoo['l'] = arch_zoo['large']
    arch_zoo['b'] = arch_zoo['base']
    OUT_TYPES = ('cls_token', 'raw', 'featmap')
    num_extra_tokens = 1

    def __init__(self,
                 arch='large',
                 img_size: Optional[int] = None,
                 patch_size: Optional[int] = None,
                 in_channels: int = 3,
                 out_indices=-1,
                 out_type: str = 'cls_token',
                 drop_path_rate: float = 0.,
                 drop_path_uniform: bool = True,
                 qkv_bias: bool = True,
                 layer_scale_init_value: float = 1e-5,
                 norm_eps: float = 1e-6,
                 final_norm: bool = True,
                 interpolate_mode: str = 'bicubic',
                 subnet: Optional[str] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.arch_settings = self._resolve_arch(
            arch, ('embed_dims', 'num_layers', 'head_dims', 'widths',
                   'depths'))
        a = self.arch_settings
        self.embed_dims = a['embed_dims']
        self.num_layers = a['num_layers']
        self.head_dims = a['head_dims']
        self.mlp_ratio = a.get('mlp_ratio', 4)
        self.img_size = img_size or a.get('img_size', 224)
        self.patch_size = patch_size or a.get('patch_size', 16)
        self.in_channels = in_channels
        self.qkv_bias = qkv_bias
        self.layer_scale_init_value = layer_scale_init_value
        self.norm_eps = norm_eps
        self.final_norm = final_norm
        self.interpolate_mode = interpolate_mode
        self.search_space = self._build_search_space(a)
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'Unsupported out_type {out_type!r}; choose '
                             f'from {self.OUT_TYPES}')
        self.out_type = out_type
        self.out_indices = ([out_indices] if isinstance(out_indices, int)
                            else list(out_indices))

        D = self.embed_dims
        self.patch_resolution = to_2tuple(self.img_size // self.patch_size)
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self.patch_embed = nn.Module()
        self.patch_embed.projection = nn.Conv2d(
            in_channels, D, self.patch_size, self.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, D))
        self.mask_token = nn.Parameter(torch.zeros(1, D))
        if drop_path_uniform:
            rates = [drop_path_rate] * self.num_layers
        else:
            rates = np.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.layers = nn.ModuleList(
            ElasticTransformerLayer(D, D * self.mlp_ratio, self.head_dims,
                                    qkv_bias, layer_scale_init_value,
                                    norm_eps, rates[i])
            for i in range(self.num_layers))
        if final_norm:
            self.ln1 = nn.LayerNorm(D, eps=norm_eps)
        self._reset_parameters()
        self.set_subnet(subnet or self.search_space.intact)

    # ------------------------------------------------------------ set-up
    def _build_search_space(self, a: dict) -> SearchSpace:
        widths, depths = sorted(a['widths']), sorted(a['depths'])
        bad = [w for w in widths if w % a['head_dims'] or w > a['embed_dims']]
        if bad or widths[-1] != a['embed_dims']:
            raise ValueError(
                f'ElasticViT widths must be multiples of head_dims '
                f'{a["head_dims"]} up to embed_dims {a["embed_dims"]} (the '
                f'largest); got {widths}')
        if depths[0] < 1 or depths[-1] != a['num_layers']:
            raise ValueError(f'ElasticViT depths must lie in [1, '
                             f'{a["num_layers"]}] and end at num_layers; got '
                             f'{depths}')
        return grid_search_space(widths, depths, a.get('sample_scale', 3),
                                 self._parse_presets(a))

    def _reset_parameters(self):
        trunc_normal_(self.pos_embed, std=.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.layers.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def init_weights(self):
        # Weights are initialised at construction (POA's scheme); only a
        # 'Pretrained' init_cfg changes them here.
        if self.init_cfg is not None:
            super().init_weights()

    # ------------------------------------------------------ sub-networks
    def set_subnet(self, spec) -> SubnetSpec:
        """Activate a sub-network (spec, spec string or preset name)."""
        spec = self.search_space.resolve(spec)
        self.active_subnet = spec
        self._geometry, self._block_ids = vit_geometry(
            spec, self.embed_dims, self.num_layers, self.head_dims,
            self.mlp_ratio)
        return spec

    @property
    def out_channels(self) -> int:
        """Feature dims of the active sub-network."""
        return self.active_subnet.width

    @property
    def max_out_channels(self) -> int:
        return self.embed_dims

    # ---------------------------------------------------------- forward
    def _slice(self, name: str) -> Tensor:
        return slice_vit_tensor(name, self.get_parameter(name),
                                self._geometry)

    def _embed(self, x: Tensor,
               mask: Optional[Tensor]) -> Tuple[Tensor, Tuple]:
        B, _, H, W = x.shape
        p = self.patch_size
        pad_h, pad_w = -H % p, -W % p  # mmcv PatchEmbed 'corner' padding
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = F.conv2d(x, self._slice('patch_embed.projection.weight'),
                     self._slice('patch_embed.projection.bias'), stride=p)
        hw = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)
        if mask is not None:
            mask = mask.flatten(1).to(torch.bool).unsqueeze(-1)
            x = torch.where(mask, self._slice('mask_token').to(x.dtype), x)
        cls = self._slice('cls_token').expand(B, -1, -1)
        x = torch.cat((cls, x), dim=1)
        x = x + interpolate_pos_embed(self._slice('pos_embed'),
                                      self.patch_resolution, hw,
                                      self.interpolate_mode)
        return x, hw

    def _final_norm(self, x: Tensor) -> Tensor:
        if not self.final_norm:
            return x
        return F.layer_norm(x, (self._geometry.width, ),
                            self._slice('ln1.weight'),
                            self._slice('ln1.bias'), self.norm_eps)

    def _format(self, x: Tensor, hw) -> Tensor:
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls_token':
            return x[:, 0]
        patch = x[:, self.num_extra_tokens:]
        return patch.reshape(x.shape[0], *hw, -1).permute(0, 3, 1, 2)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> tuple:
        """Run the active sub-network; outputs as ``VisionTransformer``.

        Args:
            x (Tensor): Images (N, C, H, W).
            mask (Tensor, optional): (N, h, w) or (N, h*w) booleans; masked
                patch tokens are replaced by the mask token.
        """
        x, hw = self._embed(x, mask)
        depth = len(self._block_ids)
        wanted = {i % depth for i in self.out_indices
                  if -depth <= i < depth}
        outs = []
        for i, block_id in enumerate(self._block_ids):
            x = self.layers[block_id](x, self._geometry)
            if i == depth - 1:
                x = self._final_norm(x)
            if i in wanted:
                outs.append(self._format(x, hw))
        return tuple(outs)

    def forward_tokens(self, x: Tensor, mask: Optional[Tensor] = None,
                       grid: Optional[Tuple[int, int]] = None
                       ) -> Tuple[Tensor, Tensor]:
        """What POA's losses use: the normed CLS token (N, w) and patch
        tokens (N, h*w, w) of the active sub-network.

        Args:
            x (Tensor): Images (N, C, H, W).
            mask (Tensor, optional): (N, h, w) booleans on the patch grid.
            grid (tuple, optional): The grid the patch tokens must be on;
                for a ViT it must be the patch grid.
        """
        x, hw = self._embed(x, mask)
        if grid is not None and tuple(grid) != tuple(hw):
            raise ValueError(f'the mask grid {tuple(grid)} must equal the '
                             f'ViT patch grid {tuple(hw)}')
        for block_id in self._block_ids:
            x = self.layers[block_id](x, self._geometry)
        x = self._final_norm(x)
        return x[:, 0], x[:, self.num_extra_tokens:]

    def get_layer_depth(self, param_name: str, prefix: str = ''):
        """Layer depth for layer-wise lr decay (as ``VisionTransformer``)."""
        num_layers = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num_layers - 1, num_layers
        name = param_name[len(prefix):]
        if name in ('cls_token', 'pos_embed', 'mask_token') or \
                name.startswith('patch_embed'):
            return 0, num_layers
        if name.startswith('layers'):
            return int(name.split('.')[1]) + 1, num_layers
        return num_layers - 1, num_layers

    def flops(self, spec, input_size=None) -> int:
        """Multiply-adds of the exported ``VisionTransformer`` on one image
        (``input_size``, default ``img_size``): patch embedding, qkv /
        proj / FFN, attention and LayerNorms (5 per element), exactly as
        MMEngine's ``FlopAnalyzer`` counts them with an attention handle
        (:func:`poa_mm.apis.flops.count_flops`)."""
        spec = self.search_space.resolve(spec)
        h, w = to_2tuple(input_size or self.img_size)
        p, width = self.patch_size, spec.width
        n = -(-h // p) * -(-w // p)
        tokens = n + self.num_extra_tokens
        hidden = width * self.mlp_ratio
        block = (tokens * width * (4 * width + 2 * hidden)  # qkv, proj, ffn
                 + 2 * tokens * tokens * width  # QK^T and AV
                 + 2 * NORM_FLOPS * tokens * width)  # ln1, ln2
        return (n * width * self.in_channels * p * p + spec.depth * block +
                (NORM_FLOPS * tokens * width if self.final_norm else 0))

    # ----------------------------------------------------------- export
    def export_subnet(self, spec, out_indices=-1, out_type: str = 'cls_token'
                      ) -> Tuple[dict, Dict[str, Tensor]]:
        """Cut a sub-network out as a stock ``mmpretrain.VisionTransformer``.

        Returns:
            tuple[dict, dict]: The backbone config and a state dict that
            loads into it with ``strict=True``.
        """
        spec = self.search_space.resolve(spec)
        cfg = dict(
            type='mmpretrain.VisionTransformer',
            arch=dict(
                embed_dims=spec.width,
                num_layers=spec.depth,
                num_heads=spec.width // self.head_dims,
                feedforward_channels=spec.width * self.mlp_ratio),
            img_size=self.img_size,
            patch_size=self.patch_size,
            in_channels=self.in_channels,
            qkv_bias=self.qkv_bias,
            norm_cfg=dict(type='LN', eps=self.norm_eps),
            final_norm=self.final_norm,
            layer_scale_init_value=self.layer_scale_init_value,
            interpolate_mode=self.interpolate_mode,
            out_indices=(out_indices if isinstance(out_indices, int) else
                         list(out_indices)),
            out_type=out_type)
        state = export_vit_state_dict(self.state_dict(), spec,
                                      self.embed_dims, self.num_layers,
                                      self.head_dims, self.mlp_ratio)
        return cfg, state

    def dense_export_kwargs(self, spec) -> dict:
        """Four evenly spaced blocks ending at the last (the ends of the
        four quarters) as feature maps, or the last one when shallower."""
        depth = self.search_space.resolve(spec).depth
        if depth < 4:
            return dict(out_indices=[-1], out_type='featmap')
        blocks = sorted({round(depth * i / 4) - 1 for i in (1, 2, 3)} |
                        {depth - 1})
        return dict(out_indices=blocks, out_type='featmap')

    @classmethod
    def downstream_spec(cls, stock_cfg: dict) -> dict:
        """What dense-prediction configs need of an exported ViT: four
        equal-width feature maps, a simple feature pyramid for detection,
        MMSegmentation's multi-level neck, drop path 0.1 and the paper's
        small/base settings by width."""
        width = stock_cfg['arch']['embed_dims']
        if len(stock_cfg['out_indices']) != 4:
            raise ValueError(
                'dense prediction needs four ViT feature maps: extract a '
                f'sub-network at least 4 blocks deep (this one has '
                f'{stock_cfg["arch"]["num_layers"]})')
        return dict(
            feature_channels=[width] * 4,
            det_neck=dict(type='mmpretrain.POASimpleFeaturePyramid',
                          in_channels=width, out_channels=256, num_outs=5),
            seg_neck=dict(type='MultiLevelNeck', in_channels=[width] * 4,
                          out_channels=width, scales=[4, 2, 1, 0.5]),
            drop_path_rate=0.1,
            frozen_stages=stock_cfg['arch']['num_layers'],
            small=width <= 384, layer_decay=True)

    @classmethod
    def classification_spec(cls, stock_cfg: dict) -> dict:
        """An exported ViT in an ``ImageClassifier``: the normed class
        token of the last block into the linear head, drop path 0.1."""
        width = stock_cfg['arch']['embed_dims']
        return dict(backbone=dict(out_indices=-1, out_type='cls_token'),
                    neck=None, in_channels=width, drop_path_rate=0.1,
                    small=width <= 384, layer_decay=True)

    def import_standard_vit(self, state_dict: Dict[str, Tensor],
                            source: str = 'the source'
                            ) -> Dict[str, Tensor]:
        """A full-size ViT's weights (mmpretrain names) as this supernet's
        state dict (:func:`~.vit_convert.supernet_state_from_vit`)."""
        return supernet_state_from_vit(
            self.state_dict(), state_dict, self.num_layers,
            self.patch_resolution, self.interpolate_mode, source)

    def export_timm(self, spec) -> Tuple[dict, Dict[str, Tensor]]:
        """Cut a sub-network out for timm: ``(dict(architecture, kwargs),
        state_dict)`` such that ``timm.create_model(architecture,
        pretrained=False, **kwargs)`` loads the state dict with
        ``strict=True`` and returns the normed CLS token of the
        sub-network."""
        spec = self.search_space.resolve(spec)
        _, state = self.export_subnet(spec)
        kwargs = dict(
            img_size=self.img_size, patch_size=self.patch_size,
            in_chans=self.in_channels, embed_dim=spec.width,
            depth=spec.depth, num_heads=spec.width // self.head_dims,
            mlp_ratio=float(self.mlp_ratio), qkv_bias=self.qkv_bias,
            init_values=self.layer_scale_init_value or None,
            final_norm=self.final_norm, num_classes=0,
            global_pool='token')
        return dict(architecture=TIMM_ARCHITECTURE,
                    kwargs=kwargs), timm_vit_state_dict(state)


def vit_geometry(spec: SubnetSpec, max_width: int, max_depth: int,
                 head_dims: int, mlp_ratio: int = 4
                 ) -> Tuple[TransformerSlice, List[int]]:
    """The active geometry of a sub-network, for both the elastic forward
    (``set_subnet``) and the export: the slice every kept block uses and the
    kept blocks' indices."""
    geometry = TransformerSlice(spec.width, spec.width * mlp_ratio,
                                spec.width // head_dims,
                                input_scale(max_width, spec.width))
    return geometry, evenly_spaced_indices(max_depth, spec.depth)


def export_vit_state_dict(state_dict: Dict[str, Tensor], spec: SubnetSpec,
                          max_width: int, max_depth: int, head_dims: int,
                          mlp_ratio: int = 4) -> Dict[str, Tensor]:
    """Slice an ElasticViT state dict to a stock ViT state dict.

    Blocks not kept are dropped and the kept ones renumbered; the mask token
    (pre-training only) is dropped. Pure function: tensors in, tensors out.
    """
    geometry, kept = vit_geometry(spec, max_width, max_depth, head_dims,
                                  mlp_ratio)
    new_index = block_renumbering(kept)

    def place(name: str):
        if not name.startswith('layers.'):
            return name, name, geometry
        _, old, local = name.split('.', 2)
        if int(old) in new_index:
            return f'layers.{new_index[int(old)]}.{local}', local, geometry

    return export_state_dict(state_dict, place, slice_vit_tensor)

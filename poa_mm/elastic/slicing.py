"""Weight slicing shared by the elastic forward passes and the export.

Every function maps full-size tensors to the tensors a sub-network uses.
POA rescales the input of every layer whose input is width-sliced by
``alpha = max_in / active_in``; here the factor is folded into the sliced
weight (never into the bias), which is what the exported model stores.

A slice that keeps the whole tensor returns the tensor itself: no view and
no ``SliceBackward`` (which allocates a full-size zero gradient and copies
into it) for the intact network and the teacher
(``benchmarks/common.py: full_size_views`` measures what that saves).
"""
from typing import Callable, Dict, NamedTuple, Optional, Tuple

from torch import Tensor


class TransformerSlice(NamedTuple):
    """The active geometry of transformer blocks (a ViT's, a Swin stage's):
    ``width`` channels in ``heads`` heads, ``hidden`` FFN channels and the
    input scale folded into every weight."""
    width: int
    hidden: int
    heads: int
    scale: float


def slice_rows(t: Tensor, g: TransformerSlice) -> Tensor:
    """The first ``g.width`` entries of dimension 0 (norms, biases, the
    patch embedding)."""
    return slice_channels(t, g.width, dim=0)


def input_scale(max_features: int, active_features: int) -> float:
    """POA's alpha: the input rescaling of a width-sliced layer."""
    return max_features / active_features


def _scaled(weight: Tensor, scale: float) -> Tensor:
    return weight if scale == 1 else weight * scale


def slice_linear(weight: Tensor,
                 bias: Optional[Tensor],
                 out_features: int,
                 in_features: int,
                 scale: float = 1.) -> Tuple[Tensor, Optional[Tensor]]:
    """Prefix-slice a linear (or conv) weight and fold the input scale."""
    if (out_features, in_features) != tuple(weight.shape[:2]):
        weight = weight[:out_features, :in_features]
    return (_scaled(weight, scale),
            slice_channels(bias, out_features, dim=0))


def slice_grouped_rows(weight: Tensor,
                       bias: Optional[Tensor],
                       groups: int,
                       out_per_group: int,
                       in_features: int,
                       scale: float = 1.) -> Tuple[Tensor, Optional[Tensor]]:
    """Slice a fused projection (e.g. qkv) per row group.

    The first ``out_per_group`` rows of each of ``groups`` equal row blocks
    are kept (q, k and v separately, so the first heads of each), then the
    first ``in_features`` columns.
    """
    rows, cols = weight.shape[0] // groups, weight.shape[1]
    if out_per_group == rows and in_features == cols:
        return _scaled(weight, scale), bias
    weight = weight.view(groups, rows, cols)[:, :out_per_group, :in_features]
    weight = _scaled(weight.reshape(groups * out_per_group, in_features),
                     scale)
    if bias is not None:
        bias = slice_grouped_bias(bias, groups, out_per_group)
    return weight, bias


def slice_channels(tensor: Optional[Tensor], channels: int,
                   dim: int = -1) -> Optional[Tensor]:
    """Prefix-slice ``channels`` along ``dim`` (norms, tokens, LayerScale)."""
    if tensor is None or tensor.shape[dim] == channels:
        return tensor
    return tensor.narrow(dim, 0, channels)


def slice_grouped_bias(bias: Tensor, groups: int, out_per_group: int
                       ) -> Tensor:
    """The bias of :func:`slice_grouped_rows`: the first ``out_per_group``
    entries of each of ``groups`` equal blocks."""
    if out_per_group * groups == bias.shape[0]:
        return bias
    return bias.view(groups, -1)[:, :out_per_group].reshape(-1)


def transformer_slice_rules(attn: str) -> Dict[
        str, Callable[[Tensor, TransformerSlice], Tensor]]:
    """The attention and FFN rules of a transformer block as mmpretrain
    names it (``{attn}.qkv``, ``{attn}.proj``, ``ffn.layers.*``): the first
    ``g.width`` channels and heads, the first ``g.hidden`` FFN channels,
    the input scale ``g.scale`` folded into every weight. ViT and Swin
    share them."""
    return {
        f'{attn}.qkv.weight': lambda t, g: slice_grouped_rows(
            t, None, 3, g.width, g.width, g.scale)[0],
        f'{attn}.qkv.bias': lambda t, g: slice_grouped_bias(t, 3, g.width),
        f'{attn}.proj.weight': lambda t, g: slice_linear(
            t, None, g.width, g.width, g.scale)[0],
        f'{attn}.proj.bias': slice_rows,
        'ffn.layers.0.0.weight': lambda t, g: slice_linear(
            t, None, g.hidden, g.width, g.scale)[0],
        'ffn.layers.0.0.bias': lambda t, g: slice_channels(t, g.hidden, 0),
        'ffn.layers.1.weight': lambda t, g: slice_linear(
            t, None, g.width, g.hidden, g.scale)[0],
        'ffn.layers.1.bias': slice_rows,
    }


def export_state_dict(
        state_dict: Dict[str, Tensor],
        place: Callable[[str], Optional[tuple]],
        slice_tensor: Callable[[str, Tensor, object], Tensor]
) -> Dict[str, Tensor]:
    """The families' export loop: the pre-training-only mask token is
    dropped; every other tensor is placed by ``place(name)`` -> ``(new
    name, name within its block, geometry)``, or None for a block the
    sub-network does not keep, then sliced by ``slice_tensor(local, tensor,
    geometry)`` and copied. Pure function: tensors in, tensors out."""
    out = {}
    for name, tensor in state_dict.items():
        placed = None if name == 'mask_token' else place(name)
        if placed is not None:
            key, local, geometry = placed
            out[key] = slice_tensor(local, tensor, geometry).clone()
    return out

"""ElasticViT's checkpoint converters, pure functions from state dict to
state dict (as timm's ``checkpoint_filter_fn``): mmpretrain ViT names to
and from timm / DINOv2 names, and a standard ViT's weights as a supernet's
state dict."""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

def interpolate_pos_embed(pos_embed: Tensor, src_grid: Tuple[int, int],
                          dst_grid: Tuple[int, int],
                          mode: str = 'bicubic') -> Tensor:
    """Resize a (1, 1 + h*w, C) position embedding to another patch grid
    by the official POA / DINOv2 rule.

    The grid is resampled with ``scale_factor=((h' + 0.1) / h, (w' + 0.1) /
    w)``, not ``size=(h', w')``: the two place the sample points differently
    (mmpretrain's ``resize_pos_embed`` uses ``size=``), and every 96 px
    local crop of pre-training takes this path. The CLS embedding is kept.
    At the stored grid the embedding is returned unchanged.
    """
    src_grid, dst_grid = tuple(src_grid), tuple(dst_grid)
    if src_grid == dst_grid:
        return pos_embed
    cls, grid = pos_embed[:, :1], pos_embed[:, 1:]
    grid = grid.reshape(1, *src_grid, -1).permute(0, 3, 1, 2)
    scale = tuple((d + 0.1) / s for d, s in zip(dst_grid, src_grid))
    grid = F.interpolate(grid, scale_factor=scale, mode=mode)
    if tuple(grid.shape[2:]) != dst_grid:
        raise RuntimeError(f'position embedding resized to '
                           f'{tuple(grid.shape[2:])}, expected {dst_grid}')
    return torch.cat((cls, grid.flatten(2).transpose(1, 2)), dim=1)


TIMM_ARCHITECTURE = 'vit_base_patch16_224'


# mmpretrain VisionTransformer name -> timm (and DINOv2) name.
TIMM_BLOCK_NAMES = {
    'ln1': 'norm1', 'ln2': 'norm2', 'attn.qkv': 'attn.qkv',
    'attn.proj': 'attn.proj', 'attn.gamma1.weight': 'ls1.gamma',
    'ffn.layers.0.0': 'mlp.fc1', 'ffn.layers.1': 'mlp.fc2',
    'ffn.gamma2.weight': 'ls2.gamma'
}
TIMM_TOP_NAMES = {'patch_embed.projection': 'patch_embed.proj', 'ln1': 'norm'}


def _rename(state_dict: Dict[str, Tensor], blocks: Tuple[str, str],
            block_names: Dict[str, str],
            top_names: Dict[str, str]) -> Dict[str, Tensor]:
    out = {}
    for name, tensor in state_dict.items():
        if name.startswith(blocks[0] + '.'):
            _, index, local = name.split('.', 2)
            prefix, table = f'{blocks[1]}.{index}.', block_names
        else:
            local, prefix, table = name, '', top_names
        for old, new in table.items():
            if local == old or local.startswith(old + '.'):
                local = new + local[len(old):]
                break
        out[prefix + local] = tensor
    return out


def timm_vit_state_dict(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Rename a stock ``mmpretrain.VisionTransformer`` state dict (as
    :meth:`ElasticViT.export_subnet` writes it) to timm's
    ``VisionTransformer`` names. Pure function: tensors in, tensors out."""
    return _rename(state_dict, ('layers', 'blocks'), TIMM_BLOCK_NAMES,
                   TIMM_TOP_NAMES)


def vit_state_dict_from_timm(
        state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """The inverse of :func:`timm_vit_state_dict` (timm and DINOv2
    checkpoints to mmpretrain / ElasticViT names)."""
    return _rename(state_dict, ('blocks', 'layers'),
                   {v: k for k, v in TIMM_BLOCK_NAMES.items()},
                   {v: k for k, v in TIMM_TOP_NAMES.items()})


def supernet_state_from_vit(own: Dict[str, Tensor],
                            state_dict: Dict[str, Tensor], num_layers: int,
                            patch_resolution: Tuple[int, int],
                            interpolate_mode: str = 'bicubic',
                            source: str = 'the source'
                            ) -> Dict[str, Tensor]:
    """A full-size ViT's weights (mmpretrain names) as an ElasticViT state
    dict like ``own`` (the supernet's), so that the intact network computes
    the source model.

    The source must have the supernet's width, depth, patch size and head
    layout; a position embedding for another grid is resized by the
    official rule; missing LayerScale (a ViT without it) becomes 1; a
    missing mask token stays zero. Anything else is a ``ValueError``
    naming both sides. Pure function: tensors in, tensors out.
    """
    width = own['pos_embed'].shape[2]
    state = dict(state_dict)
    for i in range(num_layers):
        for key in (f'layers.{i}.attn.gamma1.weight',
                    f'layers.{i}.ffn.gamma2.weight'):
            if key in own and key not in state:
                state[key] = torch.ones_like(own[key])
    state.setdefault('mask_token', torch.zeros_like(own['mask_token']))
    state['mask_token'] = state['mask_token'].reshape(1, -1)
    pos = state.get('pos_embed')
    if pos is not None and pos.shape != own['pos_embed'].shape:
        side = int(round((pos.shape[1] - 1)**0.5))
        if side * side + 1 != pos.shape[1] or pos.shape[2] != width:
            raise ValueError(f'{source}: position embedding of shape '
                             f'{tuple(pos.shape)} does not fit '
                             f'{tuple(own["pos_embed"].shape)}')
        state['pos_embed'] = interpolate_pos_embed(
            pos, (side, side), patch_resolution, interpolate_mode)
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise ValueError(
            f'{source} is not a ViT of this supernet\'s layout ({width} '
            f'wide, {num_layers} deep): missing {missing[:4]}, unexpected '
            f'{extra[:4]}')
    for key, tensor in own.items():
        if state[key].shape != tensor.shape:
            raise ValueError(
                f'{source}: {key} has shape {tuple(state[key].shape)}, the '
                f'supernet ({width} wide) needs {tuple(tensor.shape)}')
    return {k: state[k].to(own[k].dtype) for k in own}

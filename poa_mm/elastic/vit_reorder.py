"""Importance ordering of a ViT for elastification.

Prefix slicing keeps the first heads, the first FFN units and the first
residual channels of a sub-network, so a pre-trained ViT imported into an
``ElasticViT`` should have its most important parts first. The orders are
permutations the intact network does not see: attention heads (q, k, v rows
and proj columns together) and FFN units (fc1 rows, fc2 columns) per block
leave every output unchanged; the residual channels (every weight and norm
parameter that touches the stream) leave it unchanged up to the same
permutation of the output features, which k-NN, linear probes and the
freshly initialised POA heads do not care about.
"""
from typing import Dict, Iterable, List, NamedTuple

import torch
from torch import Tensor, nn


class ViTOrder(NamedTuple):
    """Most important first: residual channels ``(D, )``, and per block the
    heads ``(heads, )`` and the FFN units ``(hidden, )``."""
    channels: Tensor
    heads: List[Tensor]
    ffn: List[Tensor]


@torch.no_grad()
def vit_importance(vit: nn.Module, batches: Iterable[Tensor],
                   head_dims: int) -> Dict[str, list]:
    """Importance scores of a stock ``mmpretrain.VisionTransformer`` on a
    few batches of images (already normalised):

    - residual channel: mean absolute value in the stream after every block;
    - head: mean norm of its LayerScale-d contribution to the stream;
    - FFN unit: mean absolute activation x the norm of its LayerScale-d
      output weights.

    Runs where ``vit`` is (``batches`` on its device); the scores come back
    on the CPU.
    """
    layers = list(vit.layers)
    D = layers[0].ln1.normalized_shape[0]
    device = layers[0].ln1.weight.device
    scores = dict(channels=torch.zeros(D, device=device),
                  heads=[torch.zeros(D // head_dims, device=device)
                         for _ in layers],
                  ffn=[None for _ in layers])
    count = 0
    hooks = []

    def gamma(module, name):
        """LayerScale weights (ones when the ViT has none: nn.Identity)."""
        weight = getattr(getattr(module, name, None), 'weight', None)
        return torch.ones(D, device=device) if weight is None else weight

    def stream_hook(_, __, out):
        scores['channels'] += out.abs().mean(dim=(0, 1))

    def head_hook(i):
        attn = layers[i].attn
        w = attn.proj.weight * gamma(attn, 'gamma1')[:, None]  # (D, D_in)

        def hook(_, inputs):
            o = inputs[0]  # (B, N, D_in): the heads' outputs side by side
            B, N, _ = o.shape
            o = o.reshape(B, N, -1, head_dims)
            w_h = w.reshape(D, -1, head_dims)  # (D, heads, head_dims)
            contrib = torch.einsum('bnhd,ehd->bnhe', o, w_h)
            scores['heads'][i] += contrib.norm(dim=-1).mean(dim=(0, 1))

        return hook

    def ffn_hook(i):
        ffn = layers[i].ffn
        out_norm = (ffn.layers[1].weight *
                    gamma(ffn, 'gamma2')[:, None]).norm(dim=0)  # (hidden, )

        def hook(_, __, act):
            s = act.abs().mean(dim=(0, 1)) * out_norm
            scores['ffn'][i] = s if scores['ffn'][i] is None else \
                scores['ffn'][i] + s

        return hook

    for i, layer in enumerate(layers):
        hooks.append(layer.register_forward_hook(stream_hook))
        hooks.append(layer.attn.proj.register_forward_pre_hook(head_hook(i)))
        hooks.append(layer.ffn.layers[0].register_forward_hook(ffn_hook(i)))
    try:
        vit.eval()
        with torch.no_grad():
            for images in batches:
                vit(images)
                count += 1
    finally:
        for h in hooks:
            h.remove()
    if not count:
        raise ValueError('importance needs at least one batch of images')
    return dict(channels=scores['channels'].cpu(),
                heads=[h.cpu() for h in scores['heads']],
                ffn=[f.cpu() for f in scores['ffn']])


def order_from_importance(scores: Dict[str, list],
                          channels: bool = False) -> ViTOrder:
    """Descending importance (stable, so ties keep their index order) of
    heads and FFN units, and of the residual channels with ``channels``
    (else they keep the source order: measured on Fashion-MNIST, putting
    the largest-magnitude channels first makes small sub-networks worse,
    see docs/family_and_extraction.md, "Elastify")."""

    def desc(t):
        return torch.sort(t, descending=True, stable=True).indices

    return ViTOrder(desc(scores['channels']) if channels else
                    torch.arange(len(scores['channels'])),
                    [desc(h) for h in scores['heads']],
                    [desc(f) for f in scores['ffn']])


def permute_vit_state_dict(state: Dict[str, Tensor], order: ViTOrder,
                           head_dims: int) -> Dict[str, Tensor]:
    """Apply ``order`` to a ViT state dict in mmpretrain / ElasticViT names
    (pure function). Names not listed here (none in a stock ViT) are an
    error, so a new parameter cannot silently break the function."""
    P = order.channels
    D = P.numel()
    out = {}
    for name, t in state.items():
        if name in ('cls_token', 'pos_embed', 'mask_token'):
            out[name] = t[..., P]
        elif name.startswith('patch_embed.projection.'):
            out[name] = t[P]
        elif name in ('ln1.weight', 'ln1.bias'):  # final norm
            out[name] = t[P]
        elif name.startswith('layers.'):
            _, i, local = name.split('.', 2)
            out[name] = _permute_block(local, t, P, order.heads[int(i)],
                                       order.ffn[int(i)], head_dims, D)
        else:
            raise KeyError(f'no reordering rule for {name!r}')
    return out


def _permute_block(local: str, t: Tensor, P: Tensor, heads: Tensor,
                   ffn: Tensor, head_dims: int, D: int) -> Tensor:
    head_cols = (heads[:, None] * head_dims +
                 torch.arange(head_dims)).reshape(-1)
    qkv_rows = torch.cat([part * D + head_cols for part in range(3)])
    rules = {
        'attn.qkv.weight': lambda: t[qkv_rows][:, P],
        'attn.qkv.bias': lambda: t[qkv_rows],
        'attn.proj.weight': lambda: t[P][:, head_cols],
        'ffn.layers.0.0.weight': lambda: t[ffn][:, P],
        'ffn.layers.0.0.bias': lambda: t[ffn],
        'ffn.layers.1.weight': lambda: t[P][:, ffn],
    }
    if local in ('ln1.weight', 'ln1.bias', 'ln2.weight', 'ln2.bias',
                 'attn.gamma1.weight', 'ffn.gamma2.weight',
                 'attn.proj.bias', 'ffn.layers.1.bias'):
        return t[P]
    if local in rules:
        return rules[local]()
    raise KeyError(f'no reordering rule for block parameter {local!r}')

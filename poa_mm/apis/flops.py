"""FLOPs of standard backbones, counted by MMEngine's ``FlopAnalyzer``.

One FLOP is one multiply-add, the convention the literature quotes. Stock
MMEngine 0.10.7 has no handle for ``aten::scaled_dot_product_attention``
and silently drops attention (about half of a ViT's FLOPs at 1024 px);
:func:`sdpa_flop_jit` counts its two matrix products.
"""
from math import prod
from typing import Any, List, Sequence, Tuple, Union

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """``Q K^T`` and ``A V`` of ``aten::scaled_dot_product_attention``:
    ``B x H x L x S x (E + Ev)`` multiply-adds."""
    q, k, v = (get_shape(x) for x in inputs[:3])
    batch = prod(q[:-2])
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def as_hw(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``224`` or ``(224, 320)`` as ``(h, w)``."""
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def count_flops(model: torch.nn.Module,
                input_size: Union[int, Sequence[int]] = 224,
                in_channels: int = 3) -> int:
    """FLOPs of ``model`` on one image, attention included."""
    h, w = as_hw(input_size)
    model.eval()  # mmpretrain backbones' train() returns None
    images = torch.zeros(1, in_channels, h, w)
    analyzer = FlopAnalyzer(model, (images, ))
    analyzer.set_op_handle('aten::scaled_dot_product_attention',
                           sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    with torch.no_grad():
        return int(analyzer.total())

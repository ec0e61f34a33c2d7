"""Export an extracted sub-network to ONNX, checked with ONNX Runtime."""
import os.path as osp
from contextlib import ExitStack
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..elastic import EXPORT_PATCHES
from ..fileio import write_atomic
from .extract import build_from_metadata, load_subnet_checkpoint
from .flops import as_hw


class _Outputs(torch.nn.Module):
    """The backbone's output tuple as a flat list (ONNX outputs)."""

    def __init__(self, backbone: torch.nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, images):
        return tuple(self.backbone(images))


class _Logits(torch.nn.Module):
    """A stock ``ImageClassifier``'s class scores (one ONNX output)."""

    def __init__(self, classifier: torch.nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, images):
        return (self.classifier(images, mode='tensor'), )


def build_subnet_backbone(ckpt: dict, path: str) -> torch.nn.Module:
    """The standard backbone of an extracted checkpoint (``ckpt``, loaded
    from ``path`` by :func:`load_subnet_checkpoint`), weights loaded
    strictly, in eval mode."""
    model = build_from_metadata(ckpt['meta']['backbone_cfg'],
                                f'{path}: meta.backbone_cfg')
    prefix = 'backbone.'
    model.load_state_dict(
        {k[len(prefix):]: v
         for k, v in ckpt['state_dict'].items()}, strict=True)
    model.eval()
    return model


def build_subnet_classifier(ckpt: dict, path: str) -> torch.nn.Module:
    """The stock ``ImageClassifier`` (backbone, neck and head) of an
    extracted classifier checkpoint, weights loaded strictly, in eval
    mode."""
    meta = ckpt['meta']
    model = build_from_metadata(
        dict(type='ImageClassifier', backbone=meta['backbone_cfg'],
             neck=meta['neck_cfg'], head=meta['head_cfg']), f'{path}: meta')
    model.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    return model


def build_subnet_model(ckpt: dict,
                       path: str) -> Tuple[torch.nn.Module, List[str]]:
    """What an extracted checkpoint exports and its output names: a
    classifier's class scores (``logits``), else the backbone's feature
    tuple (``out0``, ``out1``, ...)."""
    if 'head_cfg' in ckpt['meta']:
        return _Logits(build_subnet_classifier(ckpt, path)), ['logits']
    return _Outputs(build_subnet_backbone(ckpt, path)), []


def export_onnx(subnet_checkpoint: str, out: str,
                input_size: Optional[Sequence[int]] = None,
                dynamic_batch: bool = False, overwrite: bool = False,
                rtol: float = 1e-4, opset: int = 17) -> dict:
    """Write ``out`` only if ONNX Runtime agrees with PyTorch.

    The model is traced at batch 2 and checked at batch 3 when
    ``dynamic_batch`` (at batch 2 otherwise): the max abs difference over
    all outputs must be at most ``rtol`` times the largest output
    magnitude, or ``ValueError`` is raised and nothing is written.

    Returns:
        dict: ``max_abs_diff``, ``relative_diff``, ``checked_batch``,
        ``input_size`` and the output shapes.
    """
    import onnxruntime as ort

    if osp.exists(out) and not overwrite:
        raise FileExistsError(f'{out} exists; pass --overwrite to replace it')
    ckpt = load_subnet_checkpoint(subnet_checkpoint)
    model, names = build_subnet_model(ckpt, subnet_checkpoint)
    cfg = ckpt['meta']['backbone_cfg']
    h, w = as_hw(input_size or cfg.get('img_size', 224))
    channels = cfg.get('in_channels', 3)
    g = torch.Generator().manual_seed(0)
    traced = torch.randn(2, channels, h, w, generator=g)
    check = torch.randn(3 if dynamic_batch else 2, channels, h, w,
                        generator=g)
    with torch.no_grad():
        expected = model(check)
    names = names or [f'out{i}' for i in range(len(expected))]
    axes = {n: {0: 'batch'} for n in ['images'] + names}
    report = {}

    def write(tmp: str) -> None:
        with ExitStack() as stack, torch.no_grad():
            for patch in EXPORT_PATCHES:
                stack.enter_context(patch())
            torch.onnx.export(model, (traced, ), tmp, input_names=['images'],
                              output_names=names, opset_version=opset,
                              dynamic_axes=axes if dynamic_batch else None,
                              dynamo=False)
        session = ort.InferenceSession(tmp,
                                       providers=['CPUExecutionProvider'])
        got = session.run(None, {'images': check.numpy()})
        diff = max(float(np.abs(o - e.numpy()).max())
                   for o, e in zip(got, expected))
        scale = max(float(e.abs().max()) for e in expected)
        report.update(max_abs_diff=diff, relative_diff=diff / scale,
                      checked_batch=check.shape[0], input_size=(h, w),
                      outputs=[list(e.shape[1:]) for e in expected])
        if diff > rtol * scale:
            raise ValueError(
                f'ONNX Runtime differs from PyTorch by {diff:.3g} (relative '
                f'{diff / scale:.3g} > {rtol:g}) at batch {check.shape[0]}; '
                f'nothing written')

    write_atomic(out, write, overwrite)
    return report

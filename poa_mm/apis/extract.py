"""Cut sub-networks out of POA checkpoints into standard-backbone
checkpoints (tensors and plain metadata only)."""
import hashlib
import json
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from torch import Tensor

from poa_mm.elastic import SubnetSpec
from poa_mm.elastic.base import ElasticBackboneMixin
from poa_mm.version import __version__
from poa_mm.fileio import (check_not_an_input, load_checkpoint,
                           write_atomic)
from poa_mm.utils import check_plain

BRANCHES = ('teacher', 'student')
# What tools/extract_subnet.py writes: a standard MMPretrain backbone
# checkpoint, or a timm state dict (ViT).
SUBNET_FORMATS = ('mmpretrain', 'timm')
# More parameters than any real supernet holds (ViT-L: 0.3 B): metadata that
# asks for more is crafted or corrupt, and building it would exhaust memory.
MAX_PARAMS = 10**10


METADATA_ERRORS = (TypeError, ValueError, KeyError, AssertionError,
                   RuntimeError, OverflowError, MemoryError, IndexError,
                   ZeroDivisionError)


def _cannot_build(cfg: dict, where: str, error: Exception) -> ValueError:
    detail = str(error).strip().splitlines()
    return ValueError(f'{where}: cannot build {cfg.get("type")} from this '
                      f'metadata ({type(error).__name__}: '
                      f'{detail[-1] if detail else ""})')


def meta_model(cfg: dict, where: str):
    """``MODELS.build(cfg)`` on the meta device (nothing allocated), for a
    config read from a checkpoint's metadata: ``ValueError`` (one line
    naming ``where``) for sizes of the wrong type or sign and for models
    too large to be real; None where an initialiser has no meta version or
    reads a tensor's value (then nothing is checked here)."""
    try:
        with torch.device('meta'), \
                DefaultScope.overwrite_default_scope('mmpretrain'):
            model = MODELS.build(cfg)
    except NotImplementedError:
        return None
    except METADATA_ERRORS as e:
        if 'meta tensor' in str(e):  # an __init__ that reads a value
            return None  # (Swin's .item()): no check without allocating
        raise _cannot_build(cfg, where, e) from None
    size = sum(p.numel() for p in model.parameters())
    if size > MAX_PARAMS:
        raise ValueError(f'{where}: the metadata asks for {cfg.get("type")} '
                         f'with {size / 1e9:.0f} B parameters (crafted or '
                         'corrupt metadata?)')
    return model


def build_from_metadata(cfg: dict, where: str):
    """``MODELS.build(cfg)`` for a config read from a checkpoint's metadata,
    checked first on the meta device (:func:`meta_model`)."""
    meta_model(cfg, where)
    try:
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            return MODELS.build(cfg)
    except METADATA_ERRORS as e:
        raise _cannot_build(cfg, where, e) from None


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def load_poa_checkpoint(path: str, ckpt=None
                        ) -> Tuple[dict, Dict[str, Tensor]]:
    """The backbone config and full state dict of a POA training checkpoint.

    Loaded without running code (:func:`load_checkpoint`; ``ckpt``: what it
    returned, when already read); the backbone config is the plain-data
    ``poa_mm`` entry that training writes, never the stored config text.
    Raises ``ValueError`` for anything that is not such a checkpoint.
    """
    ckpt = load_checkpoint(path) if ckpt is None else ckpt
    state = ckpt.get('state_dict') if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not any(
            k.startswith('teacher.backbone.') for k in state):
        raise ValueError(
            f'{path} is not a POA training checkpoint (expected a Runner '
            'checkpoint with teacher.backbone.* weights)')
    info = ckpt.get('poa_mm')
    if not isinstance(info, dict) or 'backbone_cfg' not in info:
        raise ValueError(
            f'{path} has no poa_mm metadata (written by poa-mm 0.1?): '
            'resume it for one iteration with tools/train.py to re-save it')
    if info.get('model_type') not in ('POA', 'mmpretrain.POA'):
        raise ValueError(f'{path} was written by a {info.get("model_type")} '
                         'model, not POA')
    backbone_cfg = info['backbone_cfg']
    check_plain(backbone_cfg, f'{path}: poa_mm.backbone_cfg')
    if not isinstance(backbone_cfg, dict) or not isinstance(
            backbone_cfg.get('type'), str):
        raise ValueError(f'{path}: poa_mm.backbone_cfg has no type')
    families = elastic_family_names()
    if backbone_cfg['type'].split('.')[-1] not in families:
        raise ValueError(
            f'{path}: poa_mm.backbone_cfg.type {backbone_cfg["type"]!r} is '
            f'not an elastic backbone family ({", ".join(families)})')
    return backbone_cfg, state


def elastic_family_names() -> list:
    """The registered elastic backbone classes (``ElasticViT``, ...): the
    only types a checkpoint's metadata may ask to build."""
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if isinstance(cls, type) and
                  issubclass(cls, ElasticBackboneMixin))


def build_elastic_backbone(backbone_cfg: dict, state: Dict[str, Tensor],
                           branch: str = 'teacher'):
    """The elastic backbone of ``branch`` with its trained weights."""
    if branch not in BRANCHES:
        raise ValueError(f'--from must be one of {BRANCHES}, got {branch!r}')
    backbone = build_from_metadata(backbone_cfg, 'poa_mm.backbone_cfg')
    prefix = 'teacher.backbone.' if branch == 'teacher' else 'backbone.'
    weights = {
        k[len(prefix):]: v
        for k, v in state.items() if k.startswith(prefix)
    }
    backbone.load_state_dict(weights, strict=True)
    return backbone.eval()


def extract_subnet(checkpoint: str, subnet: str,
                   branch: str = 'teacher', loaded=None) -> dict:
    """A standalone checkpoint of one sub-network's standard backbone.

    Returns ``dict(state_dict={'backbone.*': tensor}, meta=...)`` whose
    meta holds the backbone config, the spec, the source branch and the
    source file's SHA-256: plain types only (``weights_only=True`` loads).
    ``loaded`` is :func:`load_poa_checkpoint`'s result when already read.
    """
    backbone_cfg, state = loaded or load_poa_checkpoint(checkpoint)
    backbone = build_elastic_backbone(backbone_cfg, state, branch)
    spec = backbone.search_space.resolve(subnet)
    cfg, weights = backbone.export_subnet(
        spec, **backbone.dense_export_kwargs(spec))
    return dict(
        state_dict={f'backbone.{k}': v.contiguous()
                    for k, v in weights.items()},
        meta=dict(
            backbone_cfg=cfg,
            subnet=str(spec),
            elastic_backbone=backbone_cfg['type'],
            source=branch,
            source_sha256=file_sha256(checkpoint),
            poa_mm_version=__version__))


def extract_timm(checkpoint: str, subnet: str, branch: str = 'teacher',
                 loaded=None) -> Tuple[dict, Dict[str, Tensor]]:
    """A sub-network as a timm model: ``(meta, state_dict)``, where meta
    holds ``architecture`` and ``kwargs`` for ``timm.create_model`` plus
    the provenance of :func:`extract_subnet`."""
    backbone_cfg, state = loaded or load_poa_checkpoint(checkpoint)
    backbone = build_elastic_backbone(backbone_cfg, state, branch)
    if not hasattr(backbone, 'export_timm'):
        raise ValueError(f'--format timm is available for ViT sub-networks '
                         f'only; {backbone_cfg["type"]} has no timm '
                         'counterpart (use --format mmpretrain)')
    spec = backbone.search_space.resolve(subnet)
    meta, weights = backbone.export_timm(spec)
    meta.update(subnet=str(spec), elastic_backbone=backbone_cfg['type'],
                source=branch, source_sha256=file_sha256(checkpoint),
                poa_mm_version=__version__)
    return meta, {k: v.contiguous().clone() for k, v in weights.items()}


def timm_meta_path(out: str) -> str:
    """The ``.json`` written next to a timm ``.safetensors`` export."""
    return osp.splitext(out)[0] + '.json'


def save_timm(meta: dict, weights: Dict[str, Tensor], out: str,
              overwrite: bool = False,
              inputs: Sequence[Optional[str]] = ()) -> str:
    """``out`` (safetensors) and its ``.json`` of ``meta``, both atomic;
    returns the JSON path. Neither may be one of ``inputs``."""
    from safetensors.torch import save_file
    meta_path = timm_meta_path(out)
    for path in (out, meta_path):
        check_not_an_input(path, inputs)
    if not overwrite:
        for path in (out, meta_path):
            if osp.exists(path):
                raise FileExistsError(f'{path} exists; pass --overwrite to '
                                      'replace it')

    def write_json(tmp):
        with open(tmp, 'w') as f:
            json.dump(meta, f, indent=1)

    write_atomic(out, lambda tmp: save_file(
        weights, tmp, metadata=dict(poa_mm=json.dumps(meta))), overwrite)
    write_atomic(meta_path, write_json, overwrite)
    return meta_path


def load_subnet_checkpoint(path: str) -> dict:
    """Load an extracted sub-network checkpoint (``weights_only=True``)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'sub-network checkpoint not found: {path}')
    message = (f'{path} is not a checkpoint written by '
               'tools/extract_subnet.py')
    try:
        ckpt = load_checkpoint(path)
    except ValueError as e:
        raise ValueError(f'{e} (not a checkpoint written by '
                         'tools/extract_subnet.py)') from None
    if not isinstance(ckpt, dict) or not isinstance(
            ckpt.get('meta'), dict) or 'backbone_cfg' not in ckpt['meta']:
        raise ValueError(message)
    meta = ckpt['meta']
    unknown = sorted(set(meta) - SUBNET_META_KEYS)
    if unknown:
        raise ValueError(f'{message}: unknown metadata {unknown}')
    check_plain(meta, f'{path}: meta')
    kind = meta['backbone_cfg'].get('type') if isinstance(
        meta['backbone_cfg'], dict) else None
    if kind not in STANDARD_BACKBONES:
        raise ValueError(f'{message}: backbone type {kind!r} is not one of '
                         f'{sorted(STANDARD_BACKBONES)}')
    size = meta['backbone_cfg'].get('img_size', 1)
    sides = size if isinstance(size, (list, tuple)) else [size]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
               for v in sides):
        raise ValueError(f'{path}: meta.backbone_cfg.img_size must be a '
                         f'positive size, got {size!r}')
    model = meta_model(meta['backbone_cfg'], f'{path}: meta.backbone_cfg')
    state = ckpt.get('state_dict')
    if model is not None and isinstance(state, dict):
        ours = {f'backbone.{k}': tuple(v.shape)
                for k, v in model.state_dict().items()}
        wrong = [k for k, v in state.items()
                 if k in ours and tuple(v.shape) != ours[k]]
        if wrong:
            raise ValueError(
                f'{path}: meta.backbone_cfg does not match its weights '
                f'({wrong[0]}: {tuple(state[wrong[0]].shape)} stored, '
                f'{ours[wrong[0]]} described; {len(wrong)} in all)')
    return ckpt


SUBNET_META_KEYS = {
    'backbone_cfg', 'subnet', 'elastic_backbone', 'source', 'source_sha256',
    'poa_mm_version', 'neck_cfg', 'head_cfg'  # the last two: classifiers
}
STANDARD_BACKBONES = {
    'mmpretrain.VisionTransformer', 'mmpretrain.SwinTransformer',
    'mmpretrain.ResNet', 'mmpretrain.POAStaticResNet'
}


__all__ = [
    'extract_subnet', 'extract_timm', 'save_timm', 'load_poa_checkpoint',
    'load_subnet_checkpoint', 'SubnetSpec'
]

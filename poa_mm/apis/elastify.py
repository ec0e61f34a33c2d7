"""Elastify a pre-trained ViT: a standard checkpoint (MMPretrain, timm or
DINOv2 layout) as the initialisation of a POA run whose intact network is
that model."""
import os.path as osp
from typing import Dict

import torch
from mmengine.config import Config
from torch import Tensor

from .checkpoint import load_checkpoint

FORMATS = ('mmpretrain', 'timm', 'dinov2')


def read_weights(path: str) -> Dict[str, Tensor]:
    """Tensors of a ``.safetensors`` or (safely loaded) ``.pth`` file;
    ``state_dict`` / ``model`` / ``teacher`` wrappers unwrapped."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'source checkpoint not found: {path}')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    ckpt = load_checkpoint(path)
    for key in ('state_dict', 'model', 'teacher'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
    if not isinstance(ckpt, dict) or not all(
            torch.is_tensor(v) for v in ckpt.values()):
        raise ValueError(f'{path} holds no state dict of tensors')
    return ckpt


def standard_vit_state(weights: Dict[str, Tensor],
                       fmt: str, source: str) -> Dict[str, Tensor]:
    """``weights`` of format ``fmt`` in mmpretrain ViT names."""
    from poa_mm.elastic.vit import vit_state_dict_from_timm
    if fmt not in FORMATS:
        raise ValueError(f'--format must be one of {FORMATS}, got {fmt!r}')
    if any(k.startswith(('register_tokens', 'reg_token')) for k in weights):
        raise ValueError(f'{source} has register tokens, which ElasticViT '
                         'does not support')
    if fmt == 'mmpretrain':
        prefix = 'backbone.'
        if any(k.startswith(prefix) for k in weights):
            weights = {k[len(prefix):]: v for k, v in weights.items()
                       if k.startswith(prefix)}
        return {k: v for k, v in weights.items()
                if not k.startswith('head.')}
    if any(k.startswith('blocks.') and k.split('.')[2].isdigit()
           for k in weights):
        raise ValueError(f'{source} stores chunked blocks (FSDP); save it '
                         'with flat blocks.N names')
    state = {k: v for k, v in weights.items()
             if not k.startswith(('head.', 'fc_norm.', 'head_drop'))}
    return vit_state_dict_from_timm(state)


def elastify(source: str, fmt: str, config: str) -> dict:
    """A POA checkpoint (``state_dict`` + plain ``poa_mm`` metadata) whose
    student and teacher backbones are the source ViT (the supernet's intact
    network computes it exactly) and whose heads are freshly initialised.
    ``tools/train.py`` starts from it with ``load_from``."""
    import poa_mm  # noqa: F401
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg.model.backbone.get('type') != 'ElasticViT':
        raise ValueError(f'{config}: elastify needs an ElasticViT supernet, '
                         f'not {cfg.model.backbone.get("type")}')
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = standard_vit_state(read_weights(source), fmt, source)
    model.backbone.load_state_dict(
        model.backbone.import_standard_vit(state, source), strict=True)
    model.reset_teacher()
    return dict(
        state_dict=model.state_dict(),
        meta=dict(elastified_from=osp.abspath(source), format=fmt),
        poa_mm=dict(model_type=str(cfg.model.type),
                    backbone_cfg=cfg.model.backbone.to_dict()))

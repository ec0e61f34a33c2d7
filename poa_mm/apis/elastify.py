"""Elastify a pre-trained ViT: a standard checkpoint (MMPretrain, timm or
DINOv2 layout) as the initialisation of a POA run whose intact network is
that model."""
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.config import Config
from torch import Tensor

from ..elastic.vit_convert import vit_state_dict_from_timm
from ..elastic.vit_reorder import (order_from_importance,
                                   permute_vit_state_dict, vit_importance)
from ..engine.run_metadata import run_metadata
from ..evaluation.knn import DEFAULT_PIPELINE, build_folder_loader
from ..fileio import load_checkpoint

FORMATS = ('mmpretrain', 'timm', 'dinov2')


def check_float_weights(weights: Dict[str, Tensor], source: str) -> None:
    """``ValueError`` unless every tensor holds finite floating-point
    values (an int, bool or NaN source would start POA from zeros, ones or
    NaN)."""
    for name, tensor in weights.items():
        if not tensor.is_floating_point():
            raise ValueError(f'{source}: {name} is {tensor.dtype}, not '
                             'floating-point weights')
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f'{source}: {name} holds NaN or Inf values')


def read_weights(path: str) -> Dict[str, Tensor]:
    """Tensors of a ``.safetensors`` or (safely loaded) ``.pth`` file;
    ``state_dict`` / ``model`` / ``teacher`` wrappers unwrapped."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'source checkpoint not found: {path}')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        try:
            return load_file(path)
        except Exception as e:  # a garbage header, a truncated file
            raise ValueError(f'{path} is not a readable safetensors file '
                             f'({type(e).__name__}: {e})') from e
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


def importance_scores(model, folder: str, batches: int = 4,
                      batch_size: int = 64, device=None) -> dict:
    """Importance of the residual channels, heads and FFN units of
    ``model``'s intact ViT (:func:`~poa_mm.elastic.vit_reorder.
    vit_importance`) on ``batches`` batches of the labelled image folder
    ``folder`` (``folder/<class>/<image>``, the config's preprocessing), on
    ``device`` (default: the CPU)."""
    from mmpretrain.registry import MODELS


    if batches < 1:
        raise ValueError(f'--batches must be at least 1, got {batches}')
    if not osp.isdir(folder):
        raise FileNotFoundError(f'image folder not found: {folder}')
    backbone = model.backbone
    cfg, state = backbone.export_subnet(backbone.search_space.intact)
    vit = MODELS.build(cfg)
    vit.load_state_dict(state, strict=True)
    vit.to(device or 'cpu')
    loader = build_folder_loader(folder, DEFAULT_PIPELINE, batch_size)

    def images():
        for i, batch in enumerate(loader):
            if i == batches:
                return
            inputs = model.data_preprocessor(batch, False)['inputs']
            yield inputs.to(device or 'cpu')

    return vit_importance(vit, images(), backbone.head_dims)


def elastify(source: str, fmt: str, config: str,
             reorder_folder: Optional[str] = None, batches: int = 4,
             reorder_channels: bool = False, device=None) -> dict:
    """A POA checkpoint (``state_dict`` + plain ``poa_mm`` metadata) whose
    student and teacher backbones are the source ViT (the supernet's intact
    network computes it exactly) and whose heads are freshly initialised.
    ``tools/train.py`` starts from it with ``load_from``.

    With ``reorder_folder``, heads and FFN units (and the residual channels
    with ``reorder_channels``) are first put in order of importance on
    ``batches`` batches of its images (:func:`importance_scores`), so that
    prefix-sliced sub-networks keep the most important parts; with
    reordered channels the intact network's output features are the
    source's in ``meta.channel_order``. ``device``: where the importance
    is scored (default: the CPU); the checkpoint is written from the
    CPU."""
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg.model.backbone.get('type') != 'ElasticViT':
        raise ValueError(f'{config}: elastify needs an ElasticViT supernet, '
                         f'not {cfg.model.backbone.get("type")}')
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = standard_vit_state(read_weights(source), fmt, source)
    check_float_weights(state, source)
    model.backbone.load_state_dict(
        model.backbone.import_standard_vit(state, source), strict=True)
    meta = dict(elastified_from=osp.abspath(source), format=fmt,
                reordered=reorder_folder is not None)
    if reorder_folder is not None:
        order = order_from_importance(
            importance_scores(model, reorder_folder, batches,
                              device=device),
            channels=reorder_channels)
        model.backbone.load_state_dict(permute_vit_state_dict(
            model.backbone.state_dict(), order, model.backbone.head_dims))
        meta.update(importance_folder=osp.abspath(reorder_folder),
                    importance_batches=batches,
                    # intact feature c = source feature channel_order[c]
                    channel_order=order.channels.tolist())
    model.reset_teacher()
    return dict(
        state_dict=model.state_dict(),
        meta=meta,
        poa_mm=run_metadata(cfg))

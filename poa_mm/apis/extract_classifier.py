"""Cut sizes out of an elastic fine-tuning checkpoint
(``ElasticImageClassifier``) as stock MMPretrain ``ImageClassifier``
checkpoints: the exported backbone and the head sliced to its width."""
import inspect
from typing import Dict, Tuple

from mmengine.registry import DefaultScope
from torch import Tensor

from poa_mm.fileio import load_checkpoint
from poa_mm.utils import check_plain
from poa_mm.version import __version__
from .extract import build_from_metadata, elastic_family_names, file_sha256

CLASSIFIER_TYPES = ('ElasticImageClassifier',
                    'mmpretrain.ElasticImageClassifier')
# What an ElasticImageClassifier's stock counterpart may hold besides the
# backbone: the necks MMPretrain itself has, the sliced linear head.
STOCK_NECKS = (None, 'GlobalAveragePooling', 'mmpretrain.GlobalAveragePooling')
ELASTIC_HEADS = ('ElasticLinearClsHead', 'mmpretrain.ElasticLinearClsHead')


def is_classifier_checkpoint(ckpt) -> bool:
    """Whether a loaded checkpoint says it holds an
    ``ElasticImageClassifier`` (its ``poa_mm`` metadata)."""
    info = ckpt.get('poa_mm') if isinstance(ckpt, dict) else None
    return isinstance(info, dict) and info.get(
        'model_type') in CLASSIFIER_TYPES


def load_classifier_checkpoint(path: str, ckpt=None
                               ) -> Tuple[dict, Dict[str, Tensor]]:
    """``(metadata, state dict)`` of an ``ElasticImageClassifier`` training
    checkpoint, loaded without running code; ``ValueError`` in one line
    for anything else."""
    ckpt = load_checkpoint(path) if ckpt is None else ckpt
    state = ckpt.get('state_dict') if isinstance(ckpt, dict) else None
    if not is_classifier_checkpoint(ckpt) or not isinstance(state, dict):
        raise ValueError(
            f'{path} is not an ElasticImageClassifier checkpoint (its '
            "poa_mm metadata is missing: train with SupernetMetadataHook, "
            'as tools/to_mmpretrain.py --elastic writes it)')
    meta = ckpt['poa_mm']
    check_plain({k: v for k, v in meta.items() if k != 'recipe'},
                f'{path}: poa_mm')  # the recipe: dotted keys, never built
    for key in ('backbone_cfg', 'head_cfg'):
        if not isinstance(meta.get(key), dict):
            raise ValueError(f'{path}: poa_mm.{key} is missing')
    kind = str(meta['backbone_cfg'].get('type')).split('.')[-1]
    if kind not in elastic_family_names():
        raise ValueError(f'{path}: poa_mm.backbone_cfg.type {kind!r} is not '
                         'an elastic backbone family')
    if meta['head_cfg'].get('type') not in ELASTIC_HEADS:
        raise ValueError(f'{path}: head {meta["head_cfg"].get("type")!r} is '
                         f'not one of {ELASTIC_HEADS}')
    neck = meta.get('neck_cfg')
    if (neck or {}).get('type') not in STOCK_NECKS:
        raise ValueError(f'{path}: neck {neck!r} has no stock counterpart')
    if not any(k.startswith('head.fc.') for k in state):
        raise ValueError(f'{path} holds no classification head weights')
    return meta, state


def build_elastic_classifier(meta: dict, state: Dict[str, Tensor]):
    """The trained ``ElasticImageClassifier`` (eval mode), built in
    MMPretrain's scope whatever the current default scope is."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = build_from_metadata(
            dict(type='ElasticImageClassifier',
                 backbone=meta['backbone_cfg'], neck=meta.get('neck_cfg'),
                 head=meta['head_cfg']), 'poa_mm')
    model.load_state_dict(state, strict=True)
    return model.eval()


def classifier_export(model, spec) -> Tuple[dict, Dict[str, Tensor]]:
    """``(stock ImageClassifier model config, state dict)`` of ``model``
    at ``spec``: what the elastic model computes there."""
    backbone = model.backbone
    spec = backbone.search_space.resolve(spec)
    accepted = inspect.signature(backbone.export_subnet).parameters
    kwargs = {k: getattr(backbone, k) for k in ('out_indices', 'out_type')
              if k in accepted and hasattr(backbone, k)}
    backbone_cfg, weights = backbone.export_subnet(spec, **kwargs)
    with backbone.subnet(spec):
        width = backbone.out_channels
    head_cfg, head_weights = model.head.export(width)
    neck = model.neck_cfg
    state = {f'backbone.{k}': v.contiguous() for k, v in weights.items()}
    state.update({f'head.{k}': v for k, v in head_weights.items()})
    cfg = dict(type='mmpretrain.ImageClassifier', backbone=backbone_cfg,
               neck=neck, head=head_cfg)
    return cfg, state


def extract_classifier(checkpoint: str, subnet: str, loaded=None) -> dict:
    """A standalone stock ``ImageClassifier`` checkpoint of one size:
    ``dict(state_dict={'backbone.*', 'head.fc.*'}, meta=...)``, plain
    metadata (``weights_only=True`` loads), as
    :func:`~poa_mm.apis.extract.extract_subnet` plus ``neck_cfg`` and
    ``head_cfg``."""
    meta, state = loaded or load_classifier_checkpoint(checkpoint)
    model = build_elastic_classifier(meta, state)
    spec = model.backbone.search_space.resolve(subnet)
    cfg, weights = classifier_export(model, spec)
    return dict(
        state_dict=weights,
        meta=dict(backbone_cfg=cfg['backbone'], neck_cfg=cfg['neck'],
                  head_cfg=cfg['head'], subnet=str(spec),
                  elastic_backbone=meta['backbone_cfg']['type'],
                  source='classifier', source_sha256=file_sha256(checkpoint),
                  poa_mm_version=__version__))

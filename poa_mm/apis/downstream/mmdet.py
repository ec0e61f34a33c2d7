"""Ready MMDetection 3.x configs for extracted sub-networks."""
import json
import os.path as osp
from typing import Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.hub import get_config

from .common import (add_weight_check, backbone_cfg, check_attention_scale,
                     open_subnet, optimizer_cfg)

# MMDetection's own configs, shipped inside the mmdet package.
DET_TEMPLATES = {
    'mask-rcnn': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'cascade-mask-rcnn': 'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
}


def classes_from_coco(ann_file: str) -> Tuple[str, ...]:
    """Class names of a COCO annotation file, by category id.

    Raises:
        ValueError: (one line) not JSON, no ``categories`` list, a category
            without an integer ``id`` or a string ``name``, or repeated ids
            or names.
    """
    try:
        with open(ann_file) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'{ann_file} is not a JSON file: {e}') from e
    cats = data.get('categories') if isinstance(data, dict) else None
    if not isinstance(cats, list) or not cats:
        raise ValueError(f'{ann_file} has no "categories" list: not a COCO '
                         'annotation file')
    for i, c in enumerate(cats):
        if not (isinstance(c, dict) and isinstance(c.get('id'), int)
                and isinstance(c.get('name'), str) and c['name']):
            raise ValueError(f'{ann_file}: categories[{i}] = {c!r} needs an '
                             'integer "id" and a non-empty string "name"')
    for key in ('id', 'name'):
        values = [c[key] for c in cats]
        repeated = sorted({v for v in values if values.count(v) > 1},
                          key=str)
        if repeated:
            raise ValueError(f'{ann_file}: repeated category {key}s '
                             f'{repeated}')
    return tuple(c['name'] for c in sorted(cats, key=lambda c: c['id']))


def mmdet_config(ckpt_path: str, template: str, data_root: str,
                 max_iters: Optional[int] = None,
                 img_scale: Sequence[int] = (1333, 800),
                 batch_size: int = 2, lr: Optional[float] = None,
                 layer_decay: Optional[float] = None) -> Config:
    """An MMDetection config fine-tuning the extracted backbone.

    COCO-format data under ``data_root``: ``annotations/instances_train.json``,
    ``annotations/instances_val.json`` and ``images/``. ViT gets a simple
    feature pyramid from four evenly spaced blocks, then FPN; Swin/ResNet an
    FPN. Paper optimiser (AdamW, wd 0.05, layer decay; 3x schedule of 36
    epochs) unless ``max_iters`` asks for an iteration-based run.
    """
    ckpt_path, data_root, meta, spec = open_subnet(ckpt_path, data_root,
                                                   template, DET_TEMPLATES)
    train_ann = osp.join(data_root, 'annotations', 'instances_train.json')
    val_ann = osp.join(data_root, 'annotations', 'instances_val.json')
    for ann in (train_ann, val_ann):
        if not osp.isfile(ann):
            raise FileNotFoundError(f'COCO annotation file not found: {ann}')
    classes = classes_from_coco(train_ann)

    cfg = get_config(f'mmdet::{DET_TEMPLATES[template]}')
    backbone = backbone_cfg(ckpt_path, meta, spec)
    channels = spec['feature_channels']
    cfg.model.backbone = backbone
    cfg.model.neck = spec['det_neck'] or dict(
        type='FPN', in_channels=channels, out_channels=256, num_outs=5)
    heads = cfg.model.roi_head.bbox_head
    for head in (heads if isinstance(heads, list) else [heads]):
        head.num_classes = len(classes)
    cfg.model.roi_head.mask_head.num_classes = len(classes)

    scale = tuple(img_scale)
    # MMDetection's Resize keeps the ratio: the long side at most
    # scale[0], the short side at most scale[1]; a landscape image's
    # (height, width) is at most (short, long).
    check_attention_scale(backbone, (min(scale), max(scale)), '--img-scale')
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        for t in pipeline:
            if t['type'] == 'Resize':
                t['scale'] = scale
    for split, loader in (('train', cfg.train_dataloader),
                          ('val', cfg.val_dataloader)):
        ds = loader.dataset
        ds.data_root = data_root
        ds.ann_file = f'annotations/instances_{split}.json'
        ds.data_prefix = dict(img='images/')
        ds.metainfo = dict(classes=classes)
        ds.pipeline = cfg.train_pipeline if split == 'train' else \
            cfg.test_pipeline
        if split == 'train':
            ds.filter_cfg = dict(filter_empty_gt=True, min_size=2)
    cfg.train_dataloader.batch_size = batch_size
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = val_ann
    cfg.test_evaluator = cfg.val_evaluator

    cfg.optim_wrapper = optimizer_cfg(
        spec, lr, layer_decay,
        # The POA paper's detection settings: ViT-S lr 3e-4 / decay 0.7;
        # ViT-B 1e-4 / 0.65.
        dict(small=(3e-4, 0.7), base=(1e-4, 0.65)))
    if max_iters:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                             val_interval=max_iters)
        cfg.param_scheduler = []
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', by_epoch=False, interval=max_iters)
        cfg.log_processor = dict(by_epoch=False)
    else:
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=36,
                             val_interval=1)
        cfg.param_scheduler = [
            dict(type='LinearLR', start_factor=0.001, by_epoch=False,
                 begin=0, end=500),
            dict(type='MultiStepLR', by_epoch=True, begin=0, end=36,
                 milestones=[27, 33], gamma=0.1),
        ]
    add_weight_check(cfg, ckpt_path, meta)
    return cfg



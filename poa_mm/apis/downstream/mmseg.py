"""Ready MMSegmentation 1.x configs for extracted sub-networks."""
import os.path as osp
from typing import Optional, Sequence, Union

from mmengine.config import Config
from mmengine.hub import get_config

from ..flops import as_hw
from .common import (add_weight_check, backbone_cfg, check_attention_scale,
                     open_subnet, optimizer_cfg)

SEG_TEMPLATES = ('upernet', 'linear')


# MMSegmentation's own UPerNet / ADE20K recipe, the start of every config.
SEG_BASE = 'upernet/upernet_r50_4xb4-160k_ade20k-512x512.py'
# Variables of the base file that its config dict keeps; restated below.
SEG_BASE_VARIABLES = ('norm_cfg', 'data_preprocessor', 'dataset_type',
                      'data_root', 'crop_size', 'train_pipeline',
                      'test_pipeline', 'img_ratios', 'tta_pipeline',
                      'tta_model', 'optimizer')


def seg_dataset(data_root: str, classes_file: Optional[str]):
    """(dataset settings, number of classes, reduce_zero_label): ADE20K,
    or the classes of ``classes_file`` (or ``data_root/classes.txt``)."""
    if classes_file is None and osp.isfile(osp.join(data_root,
                                                    'classes.txt')):
        classes_file = osp.join(data_root, 'classes.txt')
    for split in ('training', 'validation'):
        for kind in ('images', 'annotations'):
            if not osp.isdir(osp.join(data_root, kind, split)):
                raise FileNotFoundError(
                    f'{osp.join(data_root, kind, split)} not found (ADE20K '
                    'layout: images/ and annotations/ with training/ and '
                    'validation/)')
    if not classes_file:
        return dict(type='ADE20KDataset', reduce_zero_label=True), 150, True
    with open(classes_file) as f:
        classes = tuple(c.strip() for c in f if c.strip())
    if len(classes) < 2:
        raise ValueError(f'{classes_file}: {len(classes)} class name(s); '
                         'segmentation needs at least 2 (one per line)')
    if len(set(classes)) < len(classes):
        raise ValueError(f'{classes_file}: a class name is repeated')
    return dict(type='BaseSegDataset', metainfo=dict(classes=classes),
                img_suffix='.jpg', seg_map_suffix='.png',
                reduce_zero_label=False), len(classes), False


def seg_heads(model, spec: dict, num_classes: int, linear: bool) -> None:
    """UPerNet and its auxiliary FCN head on the backbone's four feature
    maps, or (``linear``) one linear layer on their concatenation."""
    channels = spec['feature_channels']
    norm_cfg = dict(type='BN', requires_grad=True)
    if linear:
        model.decode_head = dict(
            type='FCNHead', in_channels=channels, in_index=[0, 1, 2, 3],
            input_transform='resize_concat', channels=sum(channels),
            num_convs=0, concat_input=False, dropout_ratio=0.,
            num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0))
        model.pop('auxiliary_head')
        return
    model.decode_head.update(in_channels=channels, num_classes=num_classes,
                             norm_cfg=norm_cfg)
    model.auxiliary_head.update(in_channels=channels[2],
                                num_classes=num_classes, norm_cfg=norm_cfg)


def mmseg_config(ckpt_path: str, template: str, data_root: str,
                 max_iters: Optional[int] = None,
                 crop_size: Union[int, Sequence[int]] = 512,
                 classes_file: Optional[str] = None, batch_size: int = 2,
                 lr: Optional[float] = None,
                 layer_decay: Optional[float] = None) -> Config:
    """An MMSegmentation config: UPerNet (+ auxiliary FCN head) or a linear
    head on the frozen backbone, from MMSegmentation's UPerNet ADE20K
    config (:data:`SEG_BASE`).

    ADE20K layout under ``data_root`` (``images/{training,validation}``,
    ``annotations/{training,validation}``; label 0 ignored) unless a
    ``classes.txt`` (one name per line, label = line index) is given or
    found in ``data_root``.
    """
    ckpt_path, data_root, meta, spec = open_subnet(ckpt_path, data_root,
                                                   template, SEG_TEMPLATES)
    dataset, num_classes, reduce_zero = seg_dataset(data_root, classes_file)
    linear = template == 'linear'
    cfg = get_config(f'mmseg::{SEG_BASE}')
    for key in SEG_BASE_VARIABLES:
        cfg.pop(key, None)
    crop = as_hw(crop_size)
    model = cfg.model
    model.pop('pretrained', None)
    model.backbone = backbone_cfg(ckpt_path, meta, spec, frozen=linear)
    model.pop('neck', None)
    if spec['seg_neck']:
        model.neck = spec['seg_neck']
    seg_heads(model, spec, num_classes, linear)
    model.data_preprocessor.size = crop
    model.test_cfg = dict(mode='slide', crop_size=crop,
                          stride=tuple(side * 2 // 3 for side in crop))
    check_attention_scale(model.backbone, crop, '--crop-size')

    # MMSegmentation's ADE20K scale (2048, 512) for a 512 crop.
    scale = (max(crop) * 4, max(crop))
    for loader, batch in ((cfg.train_dataloader, batch_size),
                          (cfg.val_dataloader, 1), (cfg.test_dataloader, 1)):
        loader.update(batch_size=batch, num_workers=2)
        loader.dataset.update(dataset, data_root=data_root)
        for t in loader.dataset.pipeline:
            if t['type'] == 'LoadAnnotations':
                t['reduce_zero_label'] = reduce_zero
            elif t['type'] in ('RandomResize', 'Resize'):
                t['scale'] = scale
            elif t['type'] == 'RandomCrop':
                t['crop_size'] = crop

    # The POA paper's segmentation settings: UPerNet ViT-S lr 6e-5 / decay
    # 0.8, ViT-B 4e-5 / 0.9; linear S 3e-5, B 7e-4.
    defaults = dict(small=(3e-5, 1.0), base=(7e-4, 1.0)) if linear else \
        dict(small=(6e-5, 0.8), base=(4e-5, 0.9))
    total = max_iters or 160000
    cfg.optim_wrapper = optimizer_cfg(spec, lr, layer_decay, defaults)
    cfg.param_scheduler = [] if max_iters else [
        dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0,
             end=1500),
        dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False,
             begin=1500, end=total),
    ]
    cfg.train_cfg.update(max_iters=total, val_interval=max_iters or 16000)
    cfg.default_hooks.checkpoint.interval = max_iters or 16000
    cfg.env_cfg.cudnn_benchmark = False
    add_weight_check(cfg, ckpt_path, meta)
    return cfg

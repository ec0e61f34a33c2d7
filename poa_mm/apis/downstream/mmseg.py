"""Ready MMSegmentation 1.x configs for extracted sub-networks."""
import os.path as osp
from typing import Optional

from mmengine.config import Config

from .common import (add_weight_check, backbone_cfg, open_subnet,
                     optimizer_cfg)

SEG_TEMPLATES = ('upernet', 'linear')


def mmseg_config(ckpt_path: str, template: str, data_root: str,
                 max_iters: Optional[int] = None, crop_size: int = 512,
                 classes_file: Optional[str] = None, batch_size: int = 2,
                 lr: Optional[float] = None,
                 layer_decay: Optional[float] = None) -> Config:
    """An MMSegmentation config: UPerNet (+ auxiliary FCN head) or a linear
    head on the frozen backbone.

    ADE20K layout under ``data_root`` (``images/{training,validation}``,
    ``annotations/{training,validation}``; label 0 ignored) unless a
    ``classes.txt`` (one name per line, label = line index) is given or
    found in ``data_root``.
    """
    ckpt_path, data_root, meta, spec = open_subnet(ckpt_path, data_root,
                                                   template, SEG_TEMPLATES)
    if classes_file is None and osp.isfile(osp.join(data_root,
                                                    'classes.txt')):
        classes_file = osp.join(data_root, 'classes.txt')
    if classes_file:
        with open(classes_file) as f:
            classes = tuple(c.strip() for c in f if c.strip())
        if len(classes) < 2:
            raise ValueError(f'{classes_file}: {len(classes)} class name(s); '
                             'segmentation needs at least 2 (one per line)')
        if len(set(classes)) < len(classes):
            raise ValueError(f'{classes_file}: a class name is repeated')
        dataset = dict(type='BaseSegDataset', metainfo=dict(classes=classes),
                       img_suffix='.jpg', seg_map_suffix='.png',
                       reduce_zero_label=False)
        num_classes, reduce_zero = len(classes), False
    else:
        dataset = dict(type='ADE20KDataset', reduce_zero_label=True)
        num_classes, reduce_zero = 150, True
    for split in ('training', 'validation'):
        for kind in ('images', 'annotations'):
            if not osp.isdir(osp.join(data_root, kind, split)):
                raise FileNotFoundError(
                    f'{osp.join(data_root, kind, split)} not found (ADE20K '
                    'layout: images/ and annotations/ with training/ and '
                    'validation/)')

    linear = template == 'linear'
    backbone = backbone_cfg(ckpt_path, meta, spec, frozen=linear)
    channels = spec['feature_channels']
    norm_cfg = dict(type='BN', requires_grad=True)
    crop = (crop_size, crop_size)
    model = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
            seg_pad_val=255, size=crop),
        backbone=backbone,
        train_cfg=dict(),
        test_cfg=dict(mode='slide', crop_size=crop,
                      stride=(crop_size * 2 // 3, ) * 2))
    if spec['seg_neck']:
        model['neck'] = spec['seg_neck']
    if linear:
        model['decode_head'] = dict(
            type='FCNHead', in_channels=channels, in_index=[0, 1, 2, 3],
            input_transform='resize_concat', channels=sum(channels),
            num_convs=0, concat_input=False, dropout_ratio=0.,
            num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0))
    else:
        model['decode_head'] = dict(
            type='UPerHead', in_channels=channels, in_index=[0, 1, 2, 3],
            pool_scales=(1, 2, 3, 6), channels=512, dropout_ratio=0.1,
            num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0))
        model['auxiliary_head'] = dict(
            type='FCNHead', in_channels=channels[2], in_index=2,
            channels=256, num_convs=1, concat_input=False, dropout_ratio=0.1,
            num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=0.4))

    scale = (crop_size * 4, crop_size)
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', reduce_zero_label=reduce_zero),
        dict(type='RandomResize', scale=scale, ratio_range=(0.5, 2.0),
             keep_ratio=True),
        dict(type='RandomCrop', crop_size=crop, cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PhotoMetricDistortion'),
        dict(type='PackSegInputs'),
    ]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotations', reduce_zero_label=reduce_zero),
        dict(type='PackSegInputs'),
    ]

    def loader(split, pipeline, bs, shuffle):
        return dict(
            batch_size=bs, num_workers=2, persistent_workers=True,
            sampler=dict(type='InfiniteSampler' if shuffle else
                         'DefaultSampler', shuffle=shuffle),
            dataset=dict(
                **dataset, data_root=data_root,
                data_prefix=dict(img_path=f'images/{split}',
                                 seg_map_path=f'annotations/{split}'),
                pipeline=pipeline))

    # POA_SPEC 6.1: UPerNet ViT-S lr 6e-5 / decay 0.8, ViT-B 4e-5 / 0.9;
    # linear S 3e-5, B 7e-4.
    defaults = dict(small=(3e-5, 1.0), base=(7e-4, 1.0)) if linear else \
        dict(small=(6e-5, 0.8), base=(4e-5, 0.9))
    total = max_iters or 160000
    cfg = Config(dict(
        default_scope='mmseg',
        model=model,
        train_dataloader=loader('training', train_pipeline, batch_size,
                                True),
        val_dataloader=loader('validation', test_pipeline, 1, False),
        val_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=total,
                       val_interval=max_iters or 16000),
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        optim_wrapper=optimizer_cfg(spec, lr, layer_decay, defaults),
        param_scheduler=[] if max_iters else [
            dict(type='LinearLR', start_factor=1e-6, by_epoch=False,
                 begin=0, end=1500),
            dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False,
                 begin=1500, end=total),
        ],
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=50,
                        log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=max_iters or 16000),
            sampler_seed=dict(type='DistSamplerSeedHook'),
            visualization=dict(type='SegVisualizationHook')),
        env_cfg=dict(cudnn_benchmark=False,
                     mp_cfg=dict(mp_start_method='fork',
                                 opencv_num_threads=0),
                     dist_cfg=dict(backend='nccl')),
        vis_backends=[dict(type='LocalVisBackend')],
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')],
                        name='visualizer'),
        log_processor=dict(by_epoch=False),
        log_level='INFO',
        load_from=None,
        resume=False,
    ))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = cfg.val_evaluator
    add_weight_check(cfg, ckpt_path, meta)
    return cfg



"""Ready MMDetection 3.x / MMSegmentation 1.x configs for extracted
sub-networks (checkpoints written by tools/extract_subnet.py)."""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
from typing import Callable, Optional, Sequence, Tuple

from mmengine.config import Config

from .extract import load_subnet_checkpoint

# MMDetection's own configs, shipped inside the mmdet package.
DET_TEMPLATES = {
    'mask-rcnn': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'cascade-mask-rcnn': 'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
}
SEG_TEMPLATES = ('upernet', 'linear')


def _family(backbone_cfg: dict) -> str:
    kind = backbone_cfg['type'].split('.')[-1]
    return {'VisionTransformer': 'vit', 'SwinTransformer': 'swin'}.get(
        kind, 'resnet')


def _feature_channels(backbone_cfg: dict) -> list:
    family = _family(backbone_cfg)
    if family == 'vit':
        if len(backbone_cfg['out_indices']) != 4:
            raise ValueError(
                'dense prediction needs four ViT feature maps: extract a '
                f'sub-network at least 4 blocks deep (this one has '
                f'{backbone_cfg["arch"]["num_layers"]})')
        return [backbone_cfg['arch']['embed_dims']] * 4
    if family == 'swin':
        w = backbone_cfg['arch']['embed_dims']
        return [w, 2 * w, 4 * w, 8 * w]
    if 'out_channels' in backbone_cfg:
        return list(backbone_cfg['out_channels'])
    return [backbone_cfg['base_channels'] * backbone_cfg['expansion'] * 2**i
            for i in range(4)]


def _backbone(ckpt_path: str, meta: dict, frozen: bool = False) -> dict:
    cfg = dict(meta['backbone_cfg'])
    cfg['init_cfg'] = dict(type='Pretrained', checkpoint=ckpt_path,
                           prefix='backbone.')
    family = _family(cfg)
    if family == 'vit':
        cfg['drop_path_rate'] = 0.1
    elif family == 'swin':
        cfg['drop_path_rate'] = 0.2
    if frozen:
        cfg['frozen_stages'] = (cfg['arch']['num_layers']
                                if family == 'vit' else 4)
    return cfg


def _optimizer(family: str, width: int, lr: Optional[float],
               layer_decay: Optional[float], defaults: dict) -> dict:
    """AdamW with layer-wise lr decay (ViT/Swin); paper settings by size."""
    small = width <= 384 if family == 'vit' else width <= 96
    base_lr, decay = defaults['small' if small else 'base']
    if family == 'resnet':
        decay = 1.0
    return dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=lr or base_lr, betas=(0.9, 0.999),
                       weight_decay=0.05),
        constructor='mmpretrain.BackboneLayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=layer_decay or decay))


def _classes_from_coco(ann_file: str) -> Tuple[str, ...]:
    with open(ann_file) as f:
        cats = json.load(f)['categories']
    return tuple(c['name'] for c in sorted(cats, key=lambda c: c['id']))


def _check_ckpt_and_root(ckpt_path: str, data_root: str) -> dict:
    ckpt = load_subnet_checkpoint(ckpt_path)
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'data root not found: {data_root}')
    return ckpt['meta']


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
    if template not in DET_TEMPLATES:
        raise ValueError(f'unknown template {template!r}; choose from '
                         f'{sorted(DET_TEMPLATES)}')
    ckpt_path = osp.abspath(ckpt_path)
    meta = _check_ckpt_and_root(ckpt_path, data_root)
    data_root = osp.abspath(data_root)
    train_ann = osp.join(data_root, 'annotations', 'instances_train.json')
    val_ann = osp.join(data_root, 'annotations', 'instances_val.json')
    for ann in (train_ann, val_ann):
        if not osp.isfile(ann):
            raise FileNotFoundError(f'COCO annotation file not found: {ann}')
    classes = _classes_from_coco(train_ann)

    import mmdet
    cfg = Config.fromfile(
        osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                 DET_TEMPLATES[template]))
    backbone = _backbone(ckpt_path, meta)
    family = _family(backbone)
    channels = _feature_channels(backbone)
    cfg.model.backbone = backbone
    if family == 'vit':
        cfg.model.neck = dict(type='mmpretrain.POASimpleFeaturePyramid',
                              in_channels=channels[0], out_channels=256,
                              num_outs=5)
    else:
        cfg.model.neck = dict(type='FPN', in_channels=channels,
                              out_channels=256, num_outs=5)
    heads = cfg.model.roi_head.bbox_head
    for head in (heads if isinstance(heads, list) else [heads]):
        head.num_classes = len(classes)
    cfg.model.roi_head.mask_head.num_classes = len(classes)

    scale = tuple(img_scale)
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

    cfg.optim_wrapper = _optimizer(
        family, channels[0], lr, layer_decay,
        # POA_SPEC 6.1: ViT-S lr 3e-4 / decay 0.7; ViT-B 1e-4 / 0.65.
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
    _common(cfg, ckpt_path, meta)
    return cfg


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
    if template not in SEG_TEMPLATES:
        raise ValueError(f'unknown template {template!r}; choose from '
                         f'{list(SEG_TEMPLATES)}')
    ckpt_path = osp.abspath(ckpt_path)
    meta = _check_ckpt_and_root(ckpt_path, data_root)
    data_root = osp.abspath(data_root)
    if classes_file is None and osp.isfile(osp.join(data_root,
                                                    'classes.txt')):
        classes_file = osp.join(data_root, 'classes.txt')
    if classes_file:
        with open(classes_file) as f:
            classes = tuple(c.strip() for c in f if c.strip())
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
    backbone = _backbone(ckpt_path, meta, frozen=linear)
    family = _family(backbone)
    channels = _feature_channels(backbone)
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
    if family == 'vit':
        model['neck'] = dict(type='MultiLevelNeck', in_channels=channels,
                             out_channels=channels[0],
                             scales=[4, 2, 1, 0.5])
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
        optim_wrapper=_optimizer(family, channels[0], lr, layer_decay,
                                 defaults),
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
    _common(cfg, ckpt_path, meta)
    return cfg


def _common(cfg: Config, ckpt_path: str, meta: dict) -> None:
    imports = ['poa_mm']
    cfg.custom_imports = dict(imports=imports, allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='mmpretrain.PretrainedBackboneCheckHook',
             checkpoint=ckpt_path, prefix='backbone.')
    ]
    cfg.poa_subnet = dict(subnet=meta['subnet'],
                          source_sha256=meta['source_sha256'])


def write_config(cfg: Config, out: str, overwrite: bool = False) -> None:
    """Dump ``cfg`` to ``out`` atomically; refuse to replace a file."""
    if osp.exists(out) and not overwrite:
        raise FileExistsError(f'{out} exists; pass --overwrite to replace '
                              'it')
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.cfg-', suffix='.py', dir=folder)
    os.close(fd)
    try:
        cfg.dump(tmp)
        os.replace(tmp, out)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by tools/to_mmdet.py and tools/to_mmseg.py."""
    parser.add_argument('subnet_checkpoint',
                        help='from tools/extract_subnet.py')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--lr', type=float, default=None)
    parser.add_argument('--layer-decay', type=float, default=None)
    parser.add_argument('--overwrite', action='store_true')


def generate_config(build: Callable[[], Config], out: str,
                    overwrite: bool) -> None:
    """CLI flow: refuse an existing ``out``, turn bad input into a one-line
    error exit, write the config atomically."""
    if osp.exists(out) and not overwrite:
        sys.exit(f'error: {out} exists; pass --overwrite to replace it')
    try:
        cfg = build()
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')
    write_config(cfg, out, overwrite=overwrite)
    print(f'wrote {out}')

"""Ready MMPretrain 1.x classification configs: a stock ``ImageClassifier``
fine-tuning one extracted sub-network (or testing an extracted classifier),
and an ``ElasticImageClassifier`` fine-tuning every size of a POA
checkpoint in one run."""
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.hub import get_config

from ..extract import (build_elastic_backbone, load_poa_checkpoint,
                       load_subnet_checkpoint)
from .common import add_weight_check, optimizer_cfg, registered_family

# MMPretrain's own runtime (hooks, visualizer, environment).
CLS_BASE = '_base_/default_runtime.py'
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
# AdamW lr and layer decay by size class (DeiT/BEiT-style fine-tuning at a
# batch of 1024; scaled linearly to the batch when not given).
CLS_DEFAULTS = dict(small=(2e-3, 0.75), base=(1e-3, 0.65))
# The head's loss in both writers (DeiT's label smoothing).
CLS_LOSS = dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original',
                loss_weight=1.0)


@dataclass
class ClsSettings:
    """The data and schedule of a classification config, as both writers
    take them: ImageNet-layout folders under ``data_root`` (classes from
    ``train_split``, in the order of ``classes_file`` when given), AdamW
    over ``max_epochs`` (or ``max_iters``) with the size class's lr and
    layer decay unless given, images at the network's size unless
    ``img_size``, ImageNet's mean and std unless given."""
    data_root: str
    max_epochs: Optional[int] = 100
    max_iters: Optional[int] = None
    batch_size: int = 64
    lr: Optional[float] = None
    layer_decay: Optional[float] = None
    img_size: Optional[int] = None
    classes_file: Optional[str] = None
    train_split: str = 'train'
    val_split: Optional[str] = None
    mean: Optional[Sequence[float]] = None
    std: Optional[Sequence[float]] = None


def cls_topk(num_classes: int) -> tuple:
    """Top-k accuracies reported for ``num_classes`` classes."""
    return (1, 5) if num_classes >= 5 else (1, )


def class_folders(data_root: str, split: str) -> List[str]:
    """The class sub-folders of ``data_root/split`` (ImageNet layout)."""
    folder = osp.join(data_root, split)
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder} not found (ImageNet layout: '
                                'DATA_ROOT/<split>/<class>/<image>)')
    classes = sorted(d for d in os.listdir(folder)
                     if osp.isdir(osp.join(folder, d)))
    if len(classes) < 2:
        raise ValueError(f'{folder} has {len(classes)} class folder(s); '
                         'classification needs at least 2')
    return classes


def cls_dataset(settings: ClsSettings) -> Tuple[dict, str, int]:
    """(dataset settings, val split, class count). The classes are the
    training folders, in the order of ``classes_file`` (or
    ``data_root/classes.txt``) when there is one; the val split (``val``,
    else ``test``) must hold the same ones."""
    if not osp.isdir(settings.data_root):
        raise FileNotFoundError(f'data root not found: {settings.data_root}')
    data_root = osp.abspath(settings.data_root)
    train_split, val_split = settings.train_split, settings.val_split
    classes_file = settings.classes_file
    classes = class_folders(data_root, train_split)
    if val_split is None:
        val_split = next((s for s in ('val', 'test')
                          if osp.isdir(osp.join(data_root, s))), 'val')
    if class_folders(data_root, val_split) != classes:
        raise ValueError(f'{osp.join(data_root, val_split)} holds other '
                         f'class folders than {train_split}/')
    if classes_file is None and osp.isfile(osp.join(data_root,
                                                    'classes.txt')):
        classes_file = osp.join(data_root, 'classes.txt')
    dataset = dict(type='CustomDataset', data_root=data_root)
    if classes_file:
        with open(classes_file) as f:
            named = [c.strip() for c in f if c.strip()]
        if sorted(named) != classes:
            raise ValueError(f'{classes_file} names other classes than the '
                             f'folders of {train_split}/ ({len(named)} vs '
                             f'{len(classes)})')
        dataset['classes'] = named
    return dataset, val_split, len(classes)


def cls_pipelines(img_size: int) -> Tuple[list, list]:
    """MMPretrain's ImageNet pipelines at ``img_size``."""
    train = [
        dict(type='LoadImageFromFile'),
        dict(type='RandomResizedCrop', scale=img_size, backend='pillow'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs'),
    ]
    test = [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=img_size * 256 // 224, edge='short',
             backend='pillow'),
        dict(type='CenterCrop', crop_size=img_size),
        dict(type='PackInputs'),
    ]
    return train, test


def cls_runtime(cfg: Config, settings: ClsSettings, img_size: int,
                num_classes: int, dataset: dict, val_split: str) -> None:
    """Data, preprocessing and evaluation of a classification config."""
    train_pipeline, test_pipeline = cls_pipelines(img_size)
    cfg.data_preprocessor = dict(
        num_classes=num_classes, mean=list(settings.mean or IMAGENET_MEAN),
        std=list(settings.std or IMAGENET_STD), to_rgb=True)

    def loader(split, pipeline, shuffle):
        return dict(batch_size=settings.batch_size, num_workers=2,
                    dataset=dict(dataset, data_prefix=split,
                                 pipeline=pipeline),
                    sampler=dict(type='DefaultSampler', shuffle=shuffle))

    cfg.train_dataloader = loader(settings.train_split, train_pipeline, True)
    cfg.val_dataloader = loader(val_split, test_pipeline, False)
    cfg.test_dataloader = loader(val_split, test_pipeline, False)
    topk = cls_topk(num_classes)
    cfg.val_evaluator = dict(type='Accuracy', topk=topk)
    cfg.test_evaluator = dict(type='Accuracy', topk=topk)


def cls_schedule(cfg: Config, max_epochs: Optional[int],
                 max_iters: Optional[int], warmup_ratio: float = 0.05
                 ) -> None:
    """AdamW's warm-up then cosine decay, by epoch or by iteration."""
    by_epoch = max_iters is None
    total = max_epochs if by_epoch else max_iters
    warmup = max(1, round(total * warmup_ratio))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=1e-3, by_epoch=by_epoch, begin=0,
             end=warmup, convert_to_iter_based=by_epoch),
        dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=by_epoch,
             begin=warmup, end=total, convert_to_iter_based=by_epoch),
    ]
    interval = max(1, total // 10) if by_epoch else total
    if by_epoch:
        cfg.train_cfg = dict(by_epoch=True, max_epochs=total,
                             val_interval=interval)
    else:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=total,
                             val_interval=interval)
    cfg.val_cfg = dict()
    cfg.test_cfg = dict()
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=interval, by_epoch=by_epoch,
        max_keep_ckpts=2, save_best='auto')
    cfg.default_hooks.logger.interval = min(10, total) if max_iters else 50
    cfg.default_hooks.logger.log_metric_by_epoch = by_epoch
    # val/<metric> and train/<loss> in the visualizer backends
    cfg.log_processor = dict(by_epoch=by_epoch, log_with_hierarchy=True)


def base_cls_config() -> Config:
    cfg = get_config(f'mmpretrain::{CLS_BASE}')
    cfg.pop('vis_backends', None)
    cfg.randomness = dict(seed=0, deterministic=False)
    return cfg


def classification_backbone(backbone_cfg: dict, spec: dict) -> dict:
    """``backbone_cfg`` with its family's ``classification_spec`` applied
    (output settings, drop path)."""
    backbone = dict(backbone_cfg, **spec['backbone'])
    if spec['drop_path_rate'] is not None:
        backbone['drop_path_rate'] = spec['drop_path_rate']
    return backbone


def cls_recipe(cfg: Config, settings: ClsSettings, spec: dict,
               img_size: int, num_classes: int, dataset: dict,
               val_split: str) -> None:
    """Data, schedule and optimizer (the size class's lr scaled to the
    batch, unless given) of a classification config."""
    cls_runtime(cfg, settings, img_size, num_classes, dataset, val_split)
    cls_schedule(cfg, settings.max_epochs, settings.max_iters)
    lr = settings.lr
    if lr is None:
        lr = CLS_DEFAULTS['small' if spec['small'] else 'base'][0] * \
            settings.batch_size / 1024
    cfg.optim_wrapper = optimizer_cfg(spec, lr, settings.layer_decay,
                                      CLS_DEFAULTS)


def mmpretrain_config(ckpt_path: str, settings: ClsSettings,
                      random_init: bool = False) -> Config:
    """A stock MMPretrain ``ImageClassifier`` config for an extracted
    sub-network (tools/extract_subnet.py): the backbone initialised from
    the checkpoint (checked by ``PretrainedBackboneCheckHook``), a linear
    head for the data's classes, drop path and layer decay from the
    family's ``classification_spec``, AdamW with warm-up and cosine.

    An extracted *classifier* (from an ``ElasticImageClassifier``
    checkpoint) keeps its head: the config tests it as it is
    (``load_from``) and fine-tunes it further.
    ``random_init`` (baselines) leaves the backbone at its random init.
    """
    ckpt_path = osp.abspath(ckpt_path)
    meta = load_subnet_checkpoint(ckpt_path)['meta']
    dataset, val_split, num_classes = cls_dataset(settings)
    family = registered_family(meta, 'classification_spec')
    spec = family.classification_spec(meta['backbone_cfg'])
    img_size = settings.img_size or meta['backbone_cfg'].get('img_size', 224)
    backbone = classification_backbone(meta['backbone_cfg'], spec)
    if not random_init:
        backbone['init_cfg'] = dict(type='Pretrained', checkpoint=ckpt_path,
                                    prefix='backbone.')
    head = dict(type='LinearClsHead', num_classes=num_classes,
                in_channels=spec['in_channels'],
                loss=CLS_LOSS, topk=cls_topk(num_classes))
    head_cfg = meta.get('head_cfg')
    if head_cfg:
        if head_cfg['num_classes'] != num_classes:
            raise ValueError(
                f'the classifier in {ckpt_path} has {head_cfg["num_classes"]}'
                f' classes, the data under {dataset["data_root"]} '
                f'{num_classes}')
        head['in_channels'] = head_cfg['in_channels']
    cfg = base_cls_config()
    cfg.model = dict(type='ImageClassifier', backbone=backbone,
                     neck=meta.get('neck_cfg', spec['neck']), head=head)
    if cfg.model['neck'] is None:
        cfg.model.pop('neck')
    cls_recipe(cfg, settings, spec, img_size, num_classes, dataset,
               val_split)
    if head_cfg:
        cfg.load_from = ckpt_path
    if not random_init:
        add_weight_check(cfg, ckpt_path, meta)
    else:
        cfg.custom_imports = dict(imports=['poa_mm'],
                                  allow_failed_imports=False)
    return cfg


def elastic_finetune_config(poa_ckpt: str, settings: ClsSettings,
                            branch: str = 'teacher',
                            subnets: Optional[Sequence[str]] = None,
                            val_subnets: Optional[Sequence[str]] = None,
                            num_random: int = 2, temperature: float = 1.,
                            label_weight: float = 0.,
                            save_best: str = 'mean/accuracy/top1'
                            ) -> Config:
    """An ``ElasticImageClassifier`` config that fine-tunes every size of a
    POA checkpoint's supernet in one run (the sandwich rule), validates
    ``val_subnets`` (default: presets, smallest, intact) at every interval
    and keeps the best checkpoint by ``save_best`` (a size's
    ``<spec>/accuracy/top1`` or the mean over the sizes)."""
    if isinstance(num_random, bool) or not isinstance(num_random, int) \
            or num_random < 0:
        raise ValueError(f'--num-random must be an integer >= 0, got '
                         f'{num_random!r}')
    if not temperature > 0:
        raise ValueError(f'--temperature must be > 0, got {temperature}')
    if not 0 <= label_weight <= 1:
        raise ValueError(f'--label-weight must be in [0, 1], got '
                         f'{label_weight}')
    poa_ckpt = osp.abspath(poa_ckpt)
    backbone_cfg, state = load_poa_checkpoint(poa_ckpt)
    dataset, val_split, num_classes = cls_dataset(settings)
    supernet = build_elastic_backbone(backbone_cfg, state, branch)
    space = supernet.search_space
    for names in (subnets or [], val_subnets or []):
        space.select(names)  # unknown names: one line, before any work
    if save_best != 'mean/accuracy/top1':
        name, _, metric = save_best.partition('/')
        save_best = f'{space.resolve(name)}/{metric or "accuracy/top1"}'
    intact_cfg, _ = supernet.export_subnet(space.intact)
    spec = type(supernet).classification_spec(intact_cfg)
    img_size = settings.img_size or getattr(supernet, 'img_size', 224)
    backbone = classification_backbone(backbone_cfg, spec)
    prefix = 'teacher.backbone.' if branch == 'teacher' else 'backbone.'
    backbone['init_cfg'] = dict(type='Pretrained', checkpoint=poa_ckpt,
                                prefix=prefix)
    cfg = base_cls_config()
    cfg.model = dict(
        type='ElasticImageClassifier', backbone=backbone,
        head=dict(type='ElasticLinearClsHead', num_classes=num_classes,
                  in_channels=supernet.max_out_channels,
                  loss=CLS_LOSS, topk=cls_topk(num_classes)),
        num_random=num_random, subnets=list(subnets) if subnets else None,
        distill=dict(temperature=temperature, label_weight=label_weight))
    if spec['neck']:
        cfg.model['neck'] = spec['neck']
    cls_recipe(cfg, settings, spec, img_size, num_classes, dataset,
               val_split)
    family = dict(subnets=list(val_subnets)) if val_subnets else {}
    cfg.val_cfg = dict(type='FamilyValLoop', **family)
    cfg.test_cfg = dict(type='FamilyTestLoop', **family)
    cfg.default_hooks.checkpoint.save_best = save_best
    cfg.default_hooks.checkpoint.rule = 'greater'
    cfg.model_wrapper_cfg = dict(type='POADistributedDataParallel',
                                 find_unused_parameters=True)
    cfg.custom_imports = dict(imports=['poa_mm'], allow_failed_imports=False)
    cfg.custom_hooks = [
        dict(type='mmpretrain.SupernetMetadataHook'),
        dict(type='mmpretrain.PretrainedBackboneCheckHook',
             checkpoint=poa_ckpt, prefix=prefix),
    ]
    cfg.poa_supernet = dict(source=branch, checkpoint=poa_ckpt)
    return cfg

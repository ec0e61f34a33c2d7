# Every size of the demo's POA ViT-tiny supernet fine-tuned in one run on
# Fashion-MNIST (ElasticImageClassifier: the sandwich rule, 1 random branch).
# Written by tools/to_mmpretrain.py (paths made relative, what the loaders
# share stated once); the same as
#   python tools/to_mmpretrain.py work_dirs/demo/iter_500.pth --elastic \
#       --data-root data/fashion_mnist_finetune_quick --max-iters 300 \
#       --batch-size 64 --num-random 1 \
#       --val-subnets 64x3 96x4 128x5 160x5 192x6 --out family.py
# Train: python tools/train.py configs/finetune/<this file>
custom_hooks = [
    dict(type='mmpretrain.SupernetMetadataHook'),
    dict(
        checkpoint='work_dirs/demo/iter_500.pth',
        prefix='teacher.backbone.',
        type='mmpretrain.PretrainedBackboneCheckHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'poa_mm',
    ])
data_preprocessor = dict(
    mean=[
        123.675,
        116.28,
        103.53,
    ],
    num_classes=10,
    std=[
        58.395,
        57.12,
        57.375,
    ],
    to_rgb=True)
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False,
        interval=300,
        max_keep_ckpts=2,
        rule='greater',
        save_best='mean/accuracy/top1',
        type='CheckpointHook'),
    logger=dict(interval=10, log_metric_by_epoch=False, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'),
    visualization=dict(enable=False, type='VisualizationHook'))
default_scope = 'mmpretrain'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='nccl'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
load_from = None
log_level = 'INFO'
log_processor = dict(by_epoch=False, log_with_hierarchy=True)
model = dict(
    backbone=dict(
        arch='tiny',
        drop_path_rate=0.1,
        init_cfg=dict(
            checkpoint='work_dirs/demo/iter_500.pth',
            prefix='teacher.backbone.',
            type='Pretrained'),
        layer_scale_init_value=0.1,
        out_indices=-1,
        out_type='cls_token',
        type='ElasticViT'),
    distill=dict(label_weight=0.0, temperature=1.0),
    head=dict(
        in_channels=192,
        loss=dict(
            label_smooth_val=0.1,
            loss_weight=1.0,
            mode='original',
            type='LabelSmoothLoss'),
        num_classes=10,
        topk=(
            1,
            5,
        ),
        type='ElasticLinearClsHead'),
    num_random=1,
    subnets=None,
    type='ElasticImageClassifier')
model_wrapper_cfg = dict(
    find_unused_parameters=True, type='POADistributedDataParallel')
optim_wrapper = dict(
    constructor='mmpretrain.BackboneLayerDecayOptimWrapperConstructor',
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ), lr=0.000125, type='AdamW', weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.75),
    type='OptimWrapper')
param_scheduler = [
    dict(
        begin=0,
        by_epoch=False,
        convert_to_iter_based=False,
        end=15,
        start_factor=0.001,
        type='LinearLR'),
    dict(
        begin=15,
        by_epoch=False,
        convert_to_iter_based=False,
        end=300,
        eta_min=1e-06,
        type='CosineAnnealingLR'),
]
poa_supernet = dict(
    checkpoint='work_dirs/demo/iter_500.pth', source='teacher')
randomness = dict(deterministic=False, seed=0)
resume = False
train_cfg = dict(max_iters=300, type='IterBasedTrainLoop', val_interval=300)
train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        data_prefix='train',
        data_root='data/fashion_mnist_finetune_quick',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(backend='pillow', scale=28, type='RandomResizedCrop'),
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
            dict(type='PackInputs'),
        ],
        type='CustomDataset'),
    num_workers=2,
    sampler=dict(shuffle=True, type='DefaultSampler'))
val_cfg = dict(
    subnets=[
        '64x3',
        '96x4',
        '128x5',
        '160x5',
        '192x6',
    ],
    type='FamilyValLoop')
val_dataloader = dict(
    train_dataloader,
    dataset=dict(
        train_dataloader['dataset'],
        data_prefix='test',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(backend='pillow', edge='short', scale=32, type='ResizeEdge'),
            dict(crop_size=28, type='CenterCrop'),
            dict(type='PackInputs'),
        ]),
    sampler=dict(shuffle=False, type='DefaultSampler'))
val_evaluator = dict(
    topk=(
        1,
        5,
    ), type='Accuracy')
test_cfg = dict(val_cfg, type='FamilyTestLoop')
test_dataloader = val_dataloader
test_evaluator = val_evaluator
visualizer = dict(
    type='UniversalVisualizer', vis_backends=[
        dict(type='LocalVisBackend'),
    ])

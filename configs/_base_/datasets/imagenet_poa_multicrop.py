# ImageNet-1k, unlabelled, POA's multi-crop augmentation (2 global crops of
# 224, 8 local of 96), 50 images per GPU; labelled folders for k-NN.
data_root = 'data/imagenet'
train_pipeline = [
    # A broken file is skipped with a warning and counted; more than 0.1 %
    # stops the run (docs/pretrain.md, tools/check_images.py).
    dict(type='LoadCheckedImage', skip_corrupt=True),
    # Effective blur probabilities of the code (0.0 / 0.9 / 0.5); the paper's
    # Table 6 lists the nominal 1.0 / 0.1 / 0.5 (DINOv2's RandomApply bug).
    dict(
        type='POAMultiCrop',
        global_size=224,
        local_size=96,
        num_local_crops=8,
        global_scale=(0.32, 1.0),
        local_scale=(0.05, 0.32),
        blur_probs=(0.0, 0.9, 0.5),
        solarize_prob=0.2),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=50,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='CustomDataset',
        data_root=data_root,
        data_prefix='train',
        with_label=False,
        pipeline=train_pipeline),
)

knn_cfg = dict(
    train_dir=data_root + '/train',
    val_dir=data_root + '/val',
    pipeline=[
        dict(type='LoadCheckedImage'),
        dict(type='ResizeEdge', scale=256, edge='short', backend='pillow',
             interpolation='bicubic'),
        dict(type='CenterCrop', crop_size=224),
        dict(type='PackInputs'),
    ],
    batch_size=256)

# POA paper recipe: ElasticSwin supernet (Swin-B geometry, C 128, depths
# (2, 2, 18, 2), window 7, head dim 16; widths 96/112/128, stage-3 depth
# 6..18: 39 sub-networks) on ImageNet-1k, 32 GPUs x 64 images, 1200
# effective epochs (346 passes of 625 iterations). Numbers follow the
# official code (swin_ssl_default_config.yaml + train/swin_ee1200.yaml).
# Deliberate differences from the official code: shifts alternate by
# position among kept blocks and the patch-embed LayerNorm runs over the
# active width, so that every sub-network is a stock SwinTransformer.
_base_ = [
    '../_base_/models/poa.py',
    '../_base_/datasets/imagenet_poa_multicrop.py',
    '../_base_/schedules/poa_adamw.py',
    '../_base_/poa_runtime.py',
]

iters_per_epoch = 625
max_iters = 346 * iters_per_epoch  # 216,250
# Peak lr: the hook's default, the sqrt rule of the ViT recipe on the real
# global batch (0.004 * sqrt(2048 / 1024) on 32 GPUs; paper: linear).

model = dict(
    backbone=dict(
        type='ElasticSwin',
        arch='base',
        drop_path_rate=0.2),  # linspace(0, 0.2) over the 24 original blocks
    head=dict(in_channels=1024),  # 8 x 128
    data_preprocessor=dict(mask_grid=(14, 14), mask_ratio_range=(0.1, 0.3)))
train_dataloader = dict(batch_size=64)
train_cfg = dict(max_iters=max_iters)
custom_hooks = [
    dict(
        type='POAScheduleHook',
        warmup_iters=30 * iters_per_epoch,
        teacher_temp_warmup_iters=30 * iters_per_epoch,
        freeze_last_layer_iters=1 * iters_per_epoch,
        ibot_start_iter=30 * iters_per_epoch,
        iter_num_scale=0.9),  # ends at lr 1.8e-4, wd 0.391, m 0.99971
    dict(type='ElasticSamplingHook'),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=10 * iters_per_epoch))

# Continue POA from an elastified ViT-L/16 (tools/elastify.py): the supernet's
# intact network starts as a pre-trained model (student = teacher), the heads
# are new. A short schedule (25 passes of 800 iterations, 7 % of the paper's
# run) with settings for a trained model: no lr warm-up from zero (the lr
# starts at its peak, a quarter of the from-scratch one, and anneals), a slow
# teacher from the start, the final teacher temperature, iBOT from step 0.
# Not from the paper (it trains from scratch only).
#   python tools/elastify.py vit-l.pth --format dinov2 --config THIS \
#       --data data/imagenet/train --out init.pth
#   bash tools/dist_train.sh THIS 8 --cfg-options load_from=init.pth
_base_ = [
    '../_base_/models/poa_vit-l16.py',
    '../_base_/datasets/imagenet_poa_multicrop.py',
    '../_base_/schedules/poa_adamw.py',
    '../_base_/poa_runtime.py',
]

iters_per_epoch = 800
max_iters = 25 * iters_per_epoch
train_cfg = dict(max_iters=max_iters)
custom_hooks = [
    dict(
        type='POAScheduleHook',
        lr_scaling=dict(base_lr=0.001, ref_batch=1024, rule='sqrt'),
        lr_min=1e-6,
        weight_decay=(0.04, 0.2),
        momentum=(0.996, 0.9999),
        teacher_temp=(0.07, 0.07),
        # The new heads' last layer waits one epoch, as from scratch.
        freeze_last_layer_iters=1 * iters_per_epoch),
    dict(type='ElasticSamplingHook'),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=10 * iters_per_epoch))

# Continue POA from an elastified tiny ViT (tools/elastify.py) on
# Fashion-MNIST, CPU-sized: a quarter of the demo's 500 iterations, the lr
# starting at its peak (no warm-up from zero for pre-trained weights), a
# slower teacher from the start, iBOT from step 0. See
# benchmarks/elastify_fmnist.py.
#   python tools/elastify.py vit.pth --format mmpretrain --config THIS \
#       --data data/fashion_mnist/train --out init.pth
#   python tools/train.py THIS --cfg-options load_from=init.pth
_base_ = ['./poa_vit-tiny_1xb32-500i_fashion-mnist.py']

max_iters = 125
train_cfg = dict(max_iters=max_iters)
custom_hooks = [
    dict(
        type='POAScheduleHook',
        lr_scaling=dict(base_lr=1e-3, ref_batch=32, rule='sqrt'),
        lr_min=1e-5,
        weight_decay=(0.04, 0.2),
        momentum=(0.99, 0.9999),
        teacher_temp=(0.04, 0.04),
        freeze_last_layer_iters=10),
    dict(type='ElasticSamplingHook'),
]

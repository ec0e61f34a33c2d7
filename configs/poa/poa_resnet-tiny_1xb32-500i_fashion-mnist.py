# POA with a CPU-sized ElasticResNet supernet (GN, stem 32, outputs
# 64..512, depths (1, 3, 4, 1); mid widths 32/64, stage-2 depth 2..3,
# stage-3 depth 2..4: 12 sub-networks) on Fashion-MNIST. ResNet has no
# patch embedding (lr multiplier unused) and uses the paper's 0.95 layer
# decay and (0.1, 0.3) mask ratios.
_base_ = ['./poa_vit-tiny_1xb32-500i_fashion-mnist.py']

model = dict(
    backbone=dict(_delete_=True, type='ElasticResNet', arch='tiny'),
    head=dict(in_channels=512),
    data_preprocessor=dict(mask_grid=(7, 7), mask_ratio_range=(0.1, 0.3)))
optim_wrapper = dict(
    paramwise_cfg=dict(layer_decay_rate=0.95, patch_embed_lr_mult=1.0))

# POA with a CPU-sized ElasticSwin supernet (C 32, depths (2, 2, 6, 2), head
# dim 8; widths 16/24/32, stage-3 depth 2..6: 15 sub-networks) on
# Fashion-MNIST. Everything else as the tiny ViT recipe; Swin masks use the
# paper's (0.1, 0.3) ratio range.
_base_ = ['./poa_vit-tiny_1xb32-500i_fashion-mnist.py']

model = dict(
    backbone=dict(
        _delete_=True, type='ElasticSwin', arch='tiny', img_size=28,
        drop_path_rate=0.1),
    head=dict(in_channels=256),
    data_preprocessor=dict(mask_grid=(7, 7), mask_ratio_range=(0.1, 0.3)))

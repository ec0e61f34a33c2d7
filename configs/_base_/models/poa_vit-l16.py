# POA on the paper's ElasticViT-L/16 supernet.
_base_ = ['./poa.py']

model = dict(
    backbone=dict(
        type='ElasticViT',
        # D 1024, L 24, head dim 64; widths 384..1024 step 64, depths 12..24
        arch='large',
        drop_path_rate=0.2,  # uniform; > 0.1 -> DINOv2 batch-subset form
        drop_path_uniform=True,
        layer_scale_init_value=1e-5))

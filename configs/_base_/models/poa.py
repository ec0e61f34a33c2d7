# The POA algorithm with the paper's heads and loss weights (official code:
# vit_ssl_default_config.yaml). A recipe adds its elastic backbone and, where
# its feature width is not 1024, head.in_channels.
model = dict(
    type='POA',
    head=dict(
        type='MultiProjectionHead',  # 4 heads shared by DINO and iBOT
        in_channels=1024,
        num_prototypes=(8192, 16384, 32768, 65536),
        hidden_channels=2048,
        bottleneck_channels=256),
    lambda_intact=0.8,
    koleo_weight=0.1,
    data_preprocessor=dict(
        type='POADataPreprocessor',
        mask_grid=(14, 14),
        mask_ratio_range=(0.1, 0.5),  # ViT; Swin/ResNet use (0.1, 0.3)
        mask_probability=0.5),
)

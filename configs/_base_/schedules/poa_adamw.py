# POA's optimizer (official code): AdamW with layer-wise lr decay, per-module
# gradient clipping, bf16 autocast. POAScheduleHook (in the recipe's
# custom_hooks) sets lr and weight decay every iteration, over the loop's
# max_iters.
optim_wrapper = dict(
    type='POAOptimWrapper',
    optimizer=dict(type='AdamW', lr=0.004, betas=(0.9, 0.999),
                   weight_decay=0.04),
    constructor='POAOptimWrapperConstructor',
    # Layer-wise lr decay during pre-training (POA-specific; DINOv2: 1.0).
    paramwise_cfg=dict(layer_decay_rate=0.9, patch_embed_lr_mult=0.2),
    max_grad_norm=1.5,  # per module: backbone and heads separately
    # The official run uses fp16 FSDP with a GradScaler; we use bf16
    # autocast (no scaler) with DDP.
    dtype='bfloat16')
param_scheduler = []  # POAScheduleHook sets lr and wd every iteration.
train_cfg = dict(type='IterBasedTrainLoop')

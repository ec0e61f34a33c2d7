# The CPU demo's recipe (poa_vit-tiny_1xb32-500i_fashion-mnist.py) on one
# GPU: the whole Fashion-MNIST training set (60k images) for 3 epochs at a
# batch of 256 (703 iterations), bf16 autocast, in-training family k-NN on
# the GPU. Same model, losses, crops and schedule values; what changes with
# the batch changes by rule:
# - peak lr: the base config's reference (3e-3 at a global batch of 256,
#   sqrt rule), so 3e-3 here and 1.06e-3 at the CPU demo's batch of 32;
# - phase lengths in epochs, the same fractions of the run as the CPU demo
#   (lr warm-up and frozen prototypes 10 %, teacher-temperature warm-up and
#   iBOT start 30 %), converted to iterations with the real batch and GPU
#   count (logged at start-up).
_base_ = ['./poa_vit-tiny_1xb32-500i_fashion-mnist.py']

max_epochs = 3

train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    drop_last=True,
    sampler=dict(_delete_=True, type='DefaultSampler', shuffle=True))
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop',
                 max_epochs=max_epochs)
optim_wrapper = dict(dtype='bfloat16')  # bf16 autocast on CUDA (fp32 on CPU)

custom_hooks = [
    dict(
        type='POAScheduleHook',
        lr_scaling={{_base_.lr_scaling}},
        warmup_epochs=0.1 * max_epochs,
        momentum=(0.98, 0.9999),
        teacher_temp=(0.02, 0.02),
        teacher_temp_warmup_epochs=0.3 * max_epochs,
        freeze_last_layer_epochs=0.1 * max_epochs,
        ibot_start_epoch=0.3 * max_epochs),
    dict(type='ElasticSamplingHook'),
    {{_base_.family_knn_hook}},
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, by_epoch=True))

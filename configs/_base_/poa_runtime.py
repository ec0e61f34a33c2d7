# Runtime shared by the POA configs: plugin import, hooks, logging.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['poa_mm'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=1000, by_epoch=False,
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
# The sampled sub-network is shown as drawn (a window of 1), not averaged.
log_processor = dict(
    window_size=10,
    by_epoch=False,
    custom_cfg=[
        dict(data_src='subnet_width', method_name='mean', window_size=1),
        dict(data_src='subnet_depth', method_name='mean', window_size=1),
    ])
log_level = 'INFO'
load_from = None
resume = False
# torch/numpy seeded seed + rank (official): drop-path subsets differ across
# ranks.
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)
# The mask token is unused until iBOT starts: DDP must allow that.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)

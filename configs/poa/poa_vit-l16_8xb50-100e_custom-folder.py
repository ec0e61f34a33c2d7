# POA on your own images: the paper's ViT-L/16 recipe (every method setting
# inherited) on an unlabelled image folder, 8 GPUs x 50 images, 100 epochs.
# docs/pretrain_custom_data.md walks through it. What must change together
# with your data is computed below from three numbers: the folder's image
# count, the global batch and the epochs.
_base_ = [
    '../_base_/models/poa_vit-l16.py',
    '../_base_/datasets/imagenet_poa_multicrop.py',
    '../_base_/schedules/poa_adamw.py',
    '../_base_/poa_runtime.py',
]

# Any tree of image files under data_root (jpg, png, ...); no labels or class
# folders needed. `find data/my_images -type f | wc -l` gives num_images.
data_root = 'data/my_images'
num_images = 200_000
gpus, batch_per_gpu = 8, 50
epochs = 100

# The recipe's schedules are in iterations of its 800-iteration "epochs";
# here one epoch is one pass over your folder.
iters_per_epoch = max(num_images // (gpus * batch_per_gpu), 1)
max_iters = epochs * iters_per_epoch

train_dataloader = dict(
    batch_size=batch_per_gpu,
    dataset=dict(data_root=data_root, data_prefix='', with_label=False))
train_cfg = dict(max_iters=max_iters)

# Lists replace, not merge: the whole hook list of the recipe, with its
# schedule lengths in your epochs (the paper's: warm-up 10, teacher
# temperature warm-up 30, last layer frozen 1, iBOT from 30, of 1200). The
# peak lr follows the real global batch by the recipe's sqrt rule
# (0.004 x sqrt(gpus x batch / 1024)); POAScheduleHook logs it.
custom_hooks = [
    dict(
        type='POAScheduleHook',
        warmup_iters=min(10, epochs // 10) * iters_per_epoch,
        teacher_temp_warmup_iters=min(30, epochs // 3) * iters_per_epoch,
        freeze_last_layer_iters=iters_per_epoch,
        ibot_start_iter=min(30, epochs // 3) * iters_per_epoch,
        iter_num_scale=0.78),
    dict(type='ElasticSamplingHook'),
]
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max(epochs // 10, 1) * iters_per_epoch))

# Labelled folders for tools/knn_eval.py and tools/linear_probe.py, if you
# have any (class sub-folders): a few thousand labelled images suffice to
# compare sub-networks.
knn_cfg = dict(train_dir='data/my_labelled/train',
               val_dir='data/my_labelled/val')

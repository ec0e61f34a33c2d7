"""For tests: the POA models and Runner configs the tests shrink to the
micro ElasticViT (128 wide, 4 deep, 28 px)."""
import os.path as osp

from mmengine.config import Config

TINY_CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'


def micro_poa_cfg(**kwargs) -> dict:
    """A POA model config on the micro supernet with small heads;
    ``kwargs`` replace its top-level entries."""
    cfg = dict(
        type='POA',
        backbone=dict(type='ElasticViT', arch='micro'),
        head=dict(type='MultiProjectionHead', in_channels=128,
                  num_prototypes=(64, 96), hidden_channels=64,
                  bottleneck_channels=32),
        data_preprocessor=dict(type='POADataPreprocessor', mask_grid=(7, 7)))
    cfg.update(kwargs)
    return cfg


def micro_runner_cfg(repo_root: str, data_root: str, work_dir,
                     max_iters: int = 2, batch_size: int = 4,
                     prototypes=(64, ), **overrides) -> Config:
    """The tiny Fashion-MNIST config with the micro supernet, small heads,
    ``max_iters`` iterations of ``batch_size`` images from ``data_root``, a
    log line every iteration and a checkpoint at the end; ``overrides`` are
    merged on top."""
    cfg = Config.fromfile(osp.join(repo_root, TINY_CONFIG))
    cfg.merge_from_dict(dict(
        work_dir=str(work_dir),
        model=dict(backbone=dict(arch='micro'),
                   head=dict(in_channels=128, num_prototypes=prototypes,
                             hidden_channels=32, bottleneck_channels=16)),
        train_dataloader=dict(batch_size=batch_size, num_workers=0,
                              persistent_workers=False,
                              dataset=dict(data_root=data_root)),
        train_cfg=dict(max_iters=max_iters),
        default_hooks=dict(logger=dict(interval=1),
                           checkpoint=dict(interval=max_iters))))
    cfg.merge_from_dict(overrides)
    return cfg

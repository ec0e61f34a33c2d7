"""k-NN of a fixed set of sub-networks during training."""
import logging
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.optim import AmpOptimWrapper
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from ..evaluation.knn import (DEFAULT_PIPELINE, KNN_TEMPERATURE, check_ks,
                              evaluate_subnets, folder_pair_loaders)
from .model_wrapper import unwrap_model


def autocast_dtype(optim_wrapper) -> Optional[torch.dtype]:
    """The autocast precision a training step runs in: POAOptimWrapper's
    ``dtype``, AmpOptimWrapper's ``cast_dtype`` (fp16 when unset), else
    None (fp32)."""
    if isinstance(optim_wrapper, AmpOptimWrapper):
        return optim_wrapper.cast_dtype or torch.float16
    return getattr(optim_wrapper, 'dtype', None)


@HOOKS.register_module()
class FamilyKNNHook(Hook):
    """Every ``interval`` iterations, weighted k-NN (teacher features) of a
    fixed set of sub-networks on a small labelled folder pair.

    One scalar per sub-network, ``knn/<spec>``, goes to the log and to every
    MMEngine visualizer backend, so each size has its own curve. A
    sub-network that falls more than ``drop_warning`` points below its own
    best so far gets a warning: small sub-networks collapsing is the failure
    to catch early. The bests are saved in checkpoints. Runs on rank 0,
    on the model's device and in the optimizer wrapper's autocast precision
    (``dtype`` of :class:`POAOptimWrapper`, ``cast_dtype`` of MMEngine's
    ``AmpOptimWrapper``).

    Args:
        interval (int): Iterations between evaluations.
        train_dir (str): Labelled image folder, the k-NN memory bank.
        val_dir (str): Labelled image folder, the queries.
        subnets (Sequence[str], optional): Defaults to None: the smallest,
            every preset and the intact network.
        pipeline (Sequence[dict], optional): Defaults to loading only.
        k (int): Defaults to 20. temperature (float): Defaults to 0.07.
        batch_size (int): Defaults to 256.
        drop_warning (float): Points below the best. Defaults to 5.
        skip_missing (bool): Warn and switch off (instead of an error) when
            a folder is missing. Defaults to False.
    """
    priority = 'LOW'  # after the optimizer step and the EMA update

    def __init__(self, interval: int, train_dir: str, val_dir: str,
                 subnets: Optional[Sequence[str]] = None,
                 pipeline: Optional[Sequence[dict]] = None, k: int = 20,
                 temperature: float = KNN_TEMPERATURE,
                 batch_size: int = 256,
                 drop_warning: float = 5., skip_missing: bool = False):
        if interval < 1 or k < 1 or temperature <= 0:
            raise ValueError('FamilyKNNHook needs interval >= 1, k >= 1 and '
                             'temperature > 0')
        self.interval, self.k, self.temperature = interval, k, temperature
        self.dirs = (train_dir, val_dir)
        self.subnets = list(subnets) if subnets else None
        self.pipeline = pipeline
        self.batch_size = batch_size
        self.drop_warning = drop_warning
        self.skip_missing = skip_missing
        self.best: Dict[str, float] = {}
        self.loaders = None

    def before_train(self, runner) -> None:
        missing = [d for d in self.dirs if not osp.isdir(d)]
        if missing:
            message = (f'FamilyKNNHook: image folder {missing[0]} not found')
            if not self.skip_missing:
                raise FileNotFoundError(message)
            print_log(message + '; the family evaluation is off',
                      logger='current', level=logging.WARNING)
            self.interval = 0
            return
        if is_main_process():
            self.loaders = folder_pair_loaders(
                *self.dirs, self.pipeline or DEFAULT_PIPELINE,
                self.batch_size)
            check_ks([self.k], len(self.loaders[0].dataset),
                     f'FamilyKNNHook ({self.dirs[0]}): ')

    def specs(self, model):
        space = model.backbone.search_space
        names = self.subnets or ['min', *space.presets, 'max']
        wanted = set(space.select(names))
        return [spec for spec in space.candidates() if spec in wanted]

    def evaluate(self, runner) -> Dict[str, float]:
        """k-NN of every sub-network now; logs and warns."""
        model = unwrap_model(runner.model)
        rows = evaluate_subnets(model, self.specs(model), *self.loaders,
                                ks=(self.k, ), temperature=self.temperature,
                                dtype=autocast_dtype(runner.optim_wrapper))
        scores = {r['subnet']: r[f'k{self.k}'] for r in rows}
        step = runner.iter + 1
        runner.visualizer.add_scalars(
            {f'knn/{spec}': v for spec, v in scores.items()}, step=step)
        print_log(f'FamilyKNNHook (iteration {step}, k={self.k}): ' +
                  ', '.join(f'{s} {v:.2f}' for s, v in scores.items()),
                  logger='current')
        for spec, value in scores.items():
            best = self.best.get(spec, value)
            if value < best - self.drop_warning:
                print_log(
                    f'FamilyKNNHook (iteration {step}): {spec} k-NN '
                    f'{value:.2f} is {best - value:.1f} points below its '
                    f'best {best:.2f}: is this sub-network collapsing?',
                    logger='current',
                    level=logging.WARNING)
            self.best[spec] = max(best, value)
        return scores

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self.interval and self.loaders is not None and \
                self.every_n_train_iters(runner, self.interval):
            self.evaluate(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['family_knn_best'] = dict(self.best)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.best.update(checkpoint.get('family_knn_best', {}))

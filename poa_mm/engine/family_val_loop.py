"""Validation and testing of several sizes of one elastic model in one pass
over the data."""
import copy
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.runner import TestLoop, ValLoop
from mmpretrain.registry import LOOPS

from ..fileio import write_atomic
from .model_wrapper import unwrap_model

FAMILY_VAL_FILE = 'family_val.json'  # in the work dir, one entry per round


def family_subnets(backbone, names: Optional[Sequence[str]]) -> List:
    """The sizes to evaluate: ``names`` (spec strings, presets) or the
    family's presets with the smallest and the intact network."""
    space = backbone.search_space
    if names:
        return space.select(names)
    return sorted(set(space.presets.values()) | {space.intact,
                                                 space.candidates()[0]})


class FamilyEvalMixin:
    """Run every batch through each size (``subnets``) with its own
    evaluator; metrics come back as ``<spec>/<metric>`` (logged as
    ``val/<spec>/accuracy/top1``) and ``mean/<metric>`` over the sizes, so
    ``save_best`` can name one size or the mean."""
    stage = 'val'  # the hooks called and the record's stage

    def __init__(self, runner, dataloader, evaluator, subnets=None,
                 fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        self._setup_family(evaluator, subnets)

    def run(self) -> dict:
        return self._run_family(self.stage)

    def _setup_family(self, evaluator, subnets):
        self._evaluator_cfg = copy.deepcopy(evaluator)
        self.subnet_names = list(subnets) if subnets else None
        backbone = getattr(unwrap_model(self.runner.model), 'backbone', None)
        if not hasattr(backbone, 'search_space'):
            raise ValueError(f'{type(self).__name__} evaluates sizes of an '
                             'elastic backbone; this model has none')
        self.specs = family_subnets(backbone, self.subnet_names)
        self.evaluators = [self.evaluator] + [
            self.runner.build_evaluator(copy.deepcopy(self._evaluator_cfg))
            for _ in self.specs[1:]
        ]
        for ev in self.evaluators[1:]:
            ev.dataset_meta = self.evaluator.dataset_meta

    def _run_family(self, stage: str) -> dict:
        self.runner.call_hook(f'before_{stage}')
        self.runner.call_hook(f'before_{stage}_epoch')
        self.runner.model.eval()
        backbone = unwrap_model(self.runner.model).backbone
        step = getattr(self.runner.model, f'{stage}_step')
        for idx, data_batch in enumerate(self.dataloader):
            self.runner.call_hook(f'before_{stage}_iter', batch_idx=idx,
                                  data_batch=data_batch)
            with torch.no_grad():
                for spec, evaluator in zip(self.specs, self.evaluators):
                    with backbone.subnet(spec):
                        outputs = step(data_batch)
                    evaluator.process(data_samples=outputs,
                                      data_batch=data_batch)
            self.runner.call_hook(f'after_{stage}_iter', batch_idx=idx,
                                  data_batch=data_batch, outputs=outputs)
        size = len(self.dataloader.dataset)
        per_size = {str(spec): ev.evaluate(size)
                    for spec, ev in zip(self.specs, self.evaluators)}
        metrics = {f'{name}/{k}': v for name, m in per_size.items()
                   for k, v in m.items()}
        for key in next(iter(per_size.values())):
            metrics[f'mean/{key}'] = sum(
                m[key] for m in per_size.values()) / len(per_size)
        if is_main_process():
            self._record(stage, per_size)
        self.runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{stage}')
        return metrics

    def _record(self, stage: str, per_size: Dict[str, dict]) -> None:
        """Append this round to the work dir's ``family_val.json`` and
        print one line per size."""
        path = osp.join(self.runner.work_dir, FAMILY_VAL_FILE)
        history = []
        if osp.isfile(path):
            with open(path) as f:
                history = json.load(f)
        history.append(dict(stage=stage, iter=self.runner.iter,
                            epoch=self.runner.epoch, metrics=per_size))

        def write(tmp):
            with open(tmp, 'w') as f:
                json.dump(history, f, indent=1)

        write_atomic(path, write, overwrite=True)
        for name, m in per_size.items():
            text = ', '.join(f'{k} {v:.2f}' for k, v in m.items())
            print_log(f'{stage} {name}: {text}', logger='current')


@LOOPS.register_module()
class FamilyValLoop(FamilyEvalMixin, ValLoop):
    """``ValLoop`` over several sizes of an elastic model
    (:class:`FamilyEvalMixin`).

    Args:
        subnets (Sequence[str], optional): Spec strings or presets; by
            default the presets, the smallest and the intact network.
    """


@LOOPS.register_module()
class FamilyTestLoop(FamilyEvalMixin, TestLoop):
    """``TestLoop`` over several sizes (:class:`FamilyValLoop`)."""
    stage = 'test'

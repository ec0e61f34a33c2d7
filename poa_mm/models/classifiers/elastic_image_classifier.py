"""Elastic fine-tuning: one supervised run that trains every sub-network of
an elastic backbone as a classifier (BigNAS's sandwich rule with in-place
distillation)."""
import random
from contextlib import nullcontext
from typing import List, Optional, Sequence

import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from torch import Tensor

from poa_mm.elastic import SubnetSpec
from poa_mm.utils import SettingError, check_keys, check_number

DISTILL_KEYS = ('temperature', 'label_weight')


def distill_loss(student: Tensor, teacher: Tensor,
                 temperature: float) -> Tensor:
    """KL(teacher || student) of the softened predictions, times T^2 (so
    its gradient scale does not change with T), averaged over the batch."""
    t = temperature
    return F.kl_div(F.log_softmax(student / t, dim=-1),
                    F.log_softmax(teacher / t, dim=-1), log_target=True,
                    reduction='batchmean') * t * t


@MODELS.register_module()
class ElasticImageClassifier(ImageClassifier):
    """An ``ImageClassifier`` over an elastic backbone that trains every
    size at once (`BigNAS <https://arxiv.org/abs/2003.11142>`_).

    One optimizer step per batch, the sandwich rule: the intact network on
    the labels (the head's loss: label smoothing, mixup soft targets), then
    the smallest and ``num_random`` sampled sub-networks on the intact
    network's detached predictions of the same batch (:func:`distill_loss`,
    optionally mixed with the label loss). Each branch's loss is a batch
    mean; their gradients are summed (one ``backward`` per branch, so the
    peak activation memory is one branch's) and one optimizer step follows.
    The sub-networks of a step depend only on ``seed`` and the iteration:
    every rank of a DDP run trains the same ones, and a resumed run draws
    what the uninterrupted one would have.

    Args:
        backbone (dict): An elastic backbone (``ElasticViT``,
            ``ElasticSwin``, ``ElasticResNet``); a ``Pretrained`` init_cfg
            with prefix ``teacher.backbone.`` (or ``backbone.``, the
            student) starts it from a POA checkpoint.
        head (dict): An ``ElasticLinearClsHead`` sized for the intact
            network.
        neck (dict, optional): E.g. ``GlobalAveragePooling`` for Swin and
            ResNet stage maps.
        num_random (int): Random sub-networks per step. Defaults to 2
            (BigNAS).
        subnets (Sequence[str], optional): What the smallest and random
            branches are drawn from (spec strings or presets); the
            smallest is the cheapest of them. Defaults to the whole
            search space.
        distill (dict): ``temperature`` (T > 0) and ``label_weight`` (in
            [0, 1]: the sampled branches' loss is ``(1 - w) * KD + w *
            label loss``). Defaults to ``dict(temperature=1.,
            label_weight=0.)``.
        seed (int): Seed of the branch draws. Defaults to 0.
    """

    # One backward per branch: under DDP the branches before the last run
    # under no_sync, and parameters a small branch does not use still carry
    # the accumulated gradient, so DDP needs find_unused_parameters=True.
    split_backward = True

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = None,
                 num_random: int = 2,
                 subnets: Optional[Sequence[str]] = None,
                 distill: Optional[dict] = None,
                 seed: int = 0,
                 **kwargs):
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
        # The stock classifier of every size keeps this neck (export).
        self.neck_cfg = dict(neck) if neck else None
        if not hasattr(self.backbone, 'search_space'):
            raise SettingError(
                f'model.backbone: ElasticImageClassifier needs an elastic '
                f'backbone, got {type(self.backbone).__name__}')
        if getattr(self.head, 'in_channels', None) != \
                self.backbone.max_out_channels:
            raise SettingError(
                f'model.head.in_channels='
                f'{getattr(self.head, "in_channels", None)} must be the '
                f"intact network's feature width "
                f'{self.backbone.max_out_channels}')
        if isinstance(num_random, bool) or not isinstance(
                num_random, int) or num_random < 0:
            raise SettingError('model.num_random must be an integer >= 0, '
                               f'got {num_random!r}')
        self.num_random = num_random
        distill = {'temperature': 1., 'label_weight': 0., **(distill or {})}
        check_keys('model.distill', distill, DISTILL_KEYS)
        self.temperature = check_number('model.distill.temperature',
                                        distill['temperature'], low=0.,
                                        low_open=True)
        self.label_weight = check_number('model.distill.label_weight',
                                         distill['label_weight'], low=0.,
                                         high=1.)
        space = self.backbone.search_space
        pool = space.select(subnets) if subnets else space.candidates()
        self.intact = space.intact
        self.smallest = min(pool)
        self.random_pool = sorted(set(pool) - {self.intact, self.smallest})
        self.seed = int(seed)
        self._local_step = 0
        self.last_sandwich: List[str] = []

    @property
    def uses_split_step(self) -> bool:
        """Every step is a sandwich step (:meth:`split_train_step`)."""
        return True

    def sandwich(self, step: int) -> List[SubnetSpec]:
        """The sub-networks of ``step``: intact, smallest, then
        ``num_random`` drawn without replacement (fewer when the pool is
        smaller)."""
        rng = random.Random(self.seed * 1_000_003 + step)
        k = min(self.num_random, len(self.random_pool))
        return [self.intact, self.smallest] + rng.sample(self.random_pool, k)

    def _step_index(self) -> int:
        it = MessageHub.get_current_instance().get_info('iter')
        if it is None:  # outside a Runner
            it, self._local_step = self._local_step, self._local_step + 1
        return int(it)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor',
                **kwargs):
        if mode == 'branch':
            return self.branch_loss(inputs, data_samples, **kwargs)
        return super().forward(inputs, data_samples, mode=mode)

    def loss(self, inputs, data_samples):
        raise RuntimeError(
            'ElasticImageClassifier trains through its sandwich step; under '
            "DDP set model_wrapper_cfg=dict(type='POADistributedDataParallel'"
            ', find_unused_parameters=True)')

    def branch_loss(self, inputs: Tensor, data_samples, subnet: SubnetSpec,
                    target: Optional[Tensor] = None):
        """``(losses, logits)`` of one branch: the label loss without
        ``target`` (the intact branch), else the distillation loss to it."""
        with self.backbone.subnet(subnet):
            logits = self.head(self.extract_feat(inputs))
        if target is None:
            return dict(loss=self.head._get_loss(logits,
                                                 data_samples)['loss']), logits
        loss = distill_loss(logits, target, self.temperature)
        if self.label_weight:
            label = self.head._get_loss(logits, data_samples)['loss']
            loss = (1 - self.label_weight) * loss + self.label_weight * label
        return dict(loss=loss), logits

    def train_step(self, data, optim_wrapper):
        return self.split_train_step(self, data, optim_wrapper)

    def split_train_step(self, forward, data, optim_wrapper) -> dict:
        """The sandwich step. ``forward`` is the model or its DDP wrapper:
        every branch but the last runs under its ``no_sync``, so the summed
        gradients are all-reduced once."""
        no_sync = getattr(forward, 'no_sync', None)
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
        specs = self.sandwich(self._step_index())
        self.last_sandwich = [str(s) for s in specs]  # for logs, tests
        names = ['intact', 'smallest'] + ['random'] * (len(specs) - 2)
        log_vars, total, target = {}, 0., None
        for i, (name, spec) in enumerate(zip(names, specs)):
            last = i == len(specs) - 1
            with (no_sync() if no_sync and not last else nullcontext()):
                with optim_wrapper.optim_context(self):
                    losses, logits = forward(**data, mode='branch',
                                             subnet=spec, target=target)
                loss = losses['loss']
                optim_wrapper.backward(loss)
            if target is None:
                target = logits.detach()
            total = total + loss.detach()
            key = f'loss_{name}'
            log_vars[key] = log_vars.get(key, 0.) + loss.detach() / (
                len(specs) - 2 if name == 'random' else 1)
        if hasattr(optim_wrapper, 'finish_step'):
            optim_wrapper.finish_step(total)
        else:
            optim_wrapper.step()
            optim_wrapper.zero_grad()
        log_vars['loss'] = total
        return {k: float(v) for k, v in log_vars.items()}

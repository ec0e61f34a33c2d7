"""POA: teacher, intact student and elastic student trained together."""
import copy
from contextlib import nullcontext
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from poa_mm.datasets.transforms import NUM_GLOBAL_CROPS
from poa_mm.elastic import SubnetSpec
from poa_mm.utils import check_number


@MODELS.register_module()
class POA(BaseSelfSupervisor):
    """`POA <https://arxiv.org/abs/2408.01031>`_: pre-training once for
    models of all sizes.

    Every step, a teacher (EMA of backbone and heads, intact network, eval
    mode) sees the global crops; the intact student and the elastic student
    (the sub-network set by :class:`ElasticSamplingHook`, sharing the
    weights) see the global crops (masked while iBOT is active) and the
    local crops. Losses follow the official code's weighting
    (``poa/train/ssl_meta_arch.py``)::

        L = mean_h [DINO_h + (1 - lambda) SV_h + IBOT_h] + KOLEO

    The backbone must implement the elastic contract (``search_space``,
    ``subnet(spec)``, ``forward_tokens(x, mask, grid)`` returning the pooled
    feature and patch tokens on the mask grid); how it slices itself is its
    own business.

    Args:
        backbone (dict): An elastic backbone.
        head (dict): The projection heads (``MultiProjectionHead``).
        dino_loss (dict): Defaults to ``DINOClsLoss``.
        ibot_loss (dict): Defaults to ``IBOTPatchLoss``.
        koleo_loss (dict): Defaults to ``KoLeoLoss``.
        same_view_loss (dict): Defaults to ``SameViewDistillLoss``.
        lambda_intact (float): The weight of the intact student (lambda).
            Defaults to 0.8.
        koleo_weight (float): Defaults to 0.1.
        use_elastic (bool): False switches the elastic branch off (a
            DINOv2-style two-branch step). Defaults to True.
        split_backward (bool): Backward the intact student (teacher and
            intact forward, its loss, backward under DDP ``no_sync``) before
            the elastic one (forward, loss with the detached intact logits
            as same-view targets, backward), then one optimizer step: the
            same gradients as the joint step with one student graph alive
            at a time. Under DDP it needs ``find_unused_parameters=True``
            and ``POADistributedDataParallel``. Defaults to False.
        data_preprocessor (dict, optional): Defaults to
            ``POADataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 dino_loss: dict = dict(type='DINOClsLoss'),
                 ibot_loss: dict = dict(type='IBOTPatchLoss'),
                 koleo_loss: dict = dict(type='KoLeoLoss'),
                 same_view_loss: dict = dict(type='SameViewDistillLoss'),
                 lambda_intact: float = 0.8,
                 koleo_weight: float = 0.1,
                 use_elastic: bool = True,
                 split_backward: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        check_number('POA lambda_intact', lambda_intact, 0., 1.)
        check_number('POA koleo_weight', koleo_weight, 0.)
        if data_preprocessor is None:
            data_preprocessor = dict(type='POADataPreprocessor')
        super().__init__(
            backbone=backbone,
            head=head,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.dino_loss = MODELS.build(dino_loss)
        self.ibot_loss = MODELS.build(ibot_loss)
        self.koleo_loss = MODELS.build(koleo_loss)
        self.same_view_loss = MODELS.build(same_view_loss)
        width = self.backbone.max_out_channels
        if self.head.in_channels != width:
            raise ValueError(
                f'POA: head.in_channels={self.head.in_channels} differs from '
                f"the backbone's feature width {width}; set "
                f'model.head.in_channels={width}')
        self.lambda_intact = lambda_intact if use_elastic else 1.
        self.koleo_weight = koleo_weight
        self.n_global = NUM_GLOBAL_CROPS
        self.use_elastic = use_elastic
        self.split_backward = split_backward
        self._split_cache = None
        self.teacher = nn.ModuleDict(
            dict(backbone=copy.deepcopy(self.backbone),
                 head=copy.deepcopy(self.head)))
        self.teacher.requires_grad_(False)
        # Inputs of every step, set each iteration by POAScheduleHook
        # (set_schedule) and ElasticSamplingHook; a step without them fails
        # instead of training with a fixed temperature and a frozen teacher.
        self.teacher_temp: Optional[float] = None
        self.ibot_active: Optional[bool] = None
        self.elastic_subnet: Optional[SubnetSpec] = None
        # True from a training step until update_teacher (or
        # skip_teacher_update): the next set_schedule refuses, so a loop
        # that sets the schedule but never moves the teacher fails.
        self._teacher_update_due = False

    # --------------------------------------------------------- teacher
    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    def init_weights(self):
        super().init_weights()
        self.reset_teacher()

    @torch.no_grad()
    def reset_teacher(self) -> None:
        """Copy the student (backbone and heads) into the teacher."""
        for name in ('backbone', 'head'):
            self.teacher[name].load_state_dict(
                getattr(self, name).state_dict())

    def _student_teacher_pairs(self):
        for name in ('backbone', 'head'):
            student = dict(getattr(self, name).named_parameters())
            for key, t in self.teacher[name].named_parameters():
                yield student[key], t

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """``teacher <- m * teacher + (1 - m) * student`` over all
        backbone and head parameters (call after the optimizer step)."""
        pairs = list(self._student_teacher_pairs())
        teacher = [t for _, t in pairs]
        student = [s.detach() for s, _ in pairs]
        torch._foreach_mul_(teacher, momentum)
        torch._foreach_add_(teacher, student, alpha=1 - momentum)
        self._teacher_update_due = False

    def skip_teacher_update(self) -> None:
        """The optimizer skipped its step (an fp16 overflow): no EMA
        update is due for it."""
        self._teacher_update_due = False

    def set_schedule(self, teacher_temp: float, ibot_active: bool) -> None:
        """The schedule's inputs of the next steps: the teacher temperature
        and whether iBOT is on. :class:`POAScheduleHook` calls it every
        iteration (and :meth:`update_teacher` after it)."""
        if not teacher_temp > 0:
            raise ValueError(f'teacher_temp must be positive, got '
                             f'{teacher_temp}')
        if self._teacher_update_due:
            raise RuntimeError(
                'POA: a training step ended without update_teacher(momentum)'
                ' and the next schedule is being set; the teacher would '
                'never move (POAScheduleHook updates it after each step)')
        self.teacher_temp, self.ibot_active = float(teacher_temp), \
            bool(ibot_active)

    def _check_schedule(self) -> None:
        if self.teacher_temp is None or self.ibot_active is None:
            raise RuntimeError(
                'POA has no teacher temperature and iBOT schedule: add '
                'POAScheduleHook to custom_hooks (it sets them and updates '
                'the EMA teacher every iteration; without it the teacher '
                'would never move), or call model.set_schedule(teacher_temp, '
                'ibot_active) and model.update_teacher(momentum) yourself')

    # --------------------------------------------------------- branches
    def _teacher_targets(self, global_crops: Tensor, masks: Tensor,
                         ibot: bool) -> List[dict]:
        backbone, head = self.teacher['backbone'], self.teacher['head']
        with torch.no_grad(), backbone.subnet(backbone.search_space.intact):
            cls, patch = backbone.forward_tokens(
                global_crops, grid=tuple(masks.shape[1:]))
            rows = [cls]
            if ibot:
                rows.append(patch[masks.flatten(1)])
            logits = head(torch.cat(rows))
        targets = []
        for out in logits:
            cls_logits, patch_logits = out[:cls.shape[0]], out[cls.shape[0]:]
            # Crop-major order; DINOClsLoss pairs each student crop with the
            # other teacher crop (the official code's cat-swap).
            t = dict(cls=self.dino_loss.teacher_targets(
                cls_logits, self.teacher_temp))
            if ibot:
                t['patch'] = self.ibot_loss.teacher_targets(
                    patch_logits, self.teacher_temp)
            targets.append(t)
        return targets

    def _student(self, spec: SubnetSpec, global_crops: Tensor,
                 local_crops: Tensor, masks: Tensor, ibot: bool) -> dict:
        with self.backbone.subnet(spec):
            cls_g, patch_g = self.backbone.forward_tokens(
                global_crops, masks if ibot else None,
                grid=tuple(masks.shape[1:]))
            cls_l = (self.backbone.forward_tokens(local_crops)[0]
                     if local_crops.shape[0] else cls_g[:0])
        rows = [cls_l, cls_g] + ([patch_g[masks.flatten(1)]] if ibot else [])
        logits = self.head(torch.cat(rows))
        n_l, n_g = cls_l.shape[0], cls_g.shape[0]
        return dict(
            cls_global=cls_g,
            local=[z[:n_l] for z in logits],
            glob=[z[n_l:n_l + n_g] for z in logits],
            patch=[z[n_l + n_g:] for z in logits])

    # ------------------------------------------------------------ loss
    def _elastic_spec(self) -> SubnetSpec:
        if self.elastic_subnet is None:
            raise RuntimeError(
                'POA needs a sampled elastic sub-network: add '
                'ElasticSamplingHook to custom_hooks or set '
                'model.elastic_subnet')
        return self.elastic_subnet

    def _branch_terms(self, inputs: Dict[str, Tensor], targets: List[dict],
                      branch: dict, weight: float, ibot: bool) -> dict:
        """One student's DINO, iBOT and KoLeo terms, weighted as in the
        total loss (mean over heads)."""
        g, l = inputs['global_crops'], inputs['local_crops']
        n_pairs = self.dino_loss.num_pairs(self.n_global,
                                           l.shape[0] // (g.shape[0] //
                                                          self.n_global))
        n_heads = len(targets)
        dino = sum(
            self.dino_loss(branch['glob'][h], branch['local'][h], t['cls'],
                           self.n_global)
            for h, t in enumerate(targets)) / (n_pairs * n_heads)
        terms = dict(loss_dino=weight * dino)
        terms['loss_ibot'] = weight * sum(
            self.ibot_loss(branch['patch'][h], t['patch'],
                           inputs['mask_weights'], g.shape[0])
            for h, t in enumerate(targets)) / n_heads if ibot else \
            g.new_zeros(())
        n_branches = 2 if self.use_elastic else 1
        terms['loss_koleo'] = self.koleo_weight * sum(
            self.koleo_loss(c)
            for c in branch['cls_global'].chunk(self.n_global)) / n_branches
        return terms

    def _same_view_term(self, intact: dict, elastic: dict) -> Tensor:
        sv = sum(
            self.same_view_loss([(i_glob, e_glob), (i_loc, e_loc)])
            for i_glob, e_glob, i_loc, e_loc in zip(
                intact['glob'], elastic['glob'], intact['local'],
                elastic['local'])) / len(intact['glob'])
        return (1 - self.lambda_intact) * sv

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, Tensor]:
        if self.uses_split_step and torch.distributed.is_initialized():
            raise RuntimeError(
                'POA(split_backward=True) under DDP needs model_wrapper_cfg '
                "= dict(type='POADistributedDataParallel', "
                'find_unused_parameters=True)')
        # The joint step is the two phases of the split one in one graph
        # (the same-view targets are detached in both).
        losses = self.split_loss(inputs, data_samples, 'intact')
        losses['loss_same_view'] = inputs['global_crops'].new_zeros(())
        if self.use_elastic:
            for key, value in self.split_loss(inputs, data_samples,
                                              'elastic').items():
                losses[key] = losses[key] + value
        self._split_cache = None
        return {k: losses[k] for k in ('loss_dino', 'loss_same_view',
                                       'loss_ibot', 'loss_koleo')}

    # ---------------------------------------------------- split backward
    def split_loss(self, inputs: Dict[str, Tensor],
                   data_samples: Optional[List[DataSample]] = None,
                   phase: str = 'intact') -> Dict[str, Tensor]:
        """One phase of the split step (``loss`` mode of :meth:`forward`
        with ``phase``): 'intact' runs the teacher and the intact student
        and keeps the teacher targets and the intact logits (detached) for
        'elastic', which runs the elastic student, its terms and the
        same-view loss."""
        g, l, masks = (inputs['global_crops'], inputs['local_crops'],
                       inputs['masks'])
        # From the schedule only, never from this rank's masks: the iBOT
        # Sinkhorn-Knopp all-reduces must run on every rank or on none.
        self._check_schedule()
        ibot = self.ibot_active
        if phase == 'intact':
            if self.training and torch.is_grad_enabled():
                self._teacher_update_due = True
            targets = self._teacher_targets(g, masks, ibot)
            intact = self._student(self.backbone.search_space.intact, g, l,
                                   masks, ibot)
            self._split_cache = dict(
                targets=targets,
                intact={k: [z.detach() for z in intact[k]]
                        for k in ('glob', 'local')})
            return self._branch_terms(inputs, targets, intact,
                                      self.lambda_intact, ibot)
        cache = self._split_cache
        self._split_cache = None
        elastic = self._student(self._elastic_spec(), g, l, masks, ibot)
        terms = self._branch_terms(inputs, cache['targets'], elastic,
                                   1 - self.lambda_intact, ibot)
        terms['loss_same_view'] = self._same_view_term(cache['intact'],
                                                       elastic)
        return terms

    def forward(self, inputs, data_samples=None, mode: str = 'tensor',
                **kwargs):
        if mode == 'loss' and 'phase' in kwargs:
            return self.split_loss(inputs, data_samples, kwargs['phase'])
        return super().forward(inputs, data_samples, mode=mode)

    @property
    def uses_split_step(self) -> bool:
        """Whether a step is :meth:`split_train_step` (``split_backward``
        with the elastic branch on) rather than the joint one."""
        return self.split_backward and self.use_elastic

    def split_train_step(self, forward, data, optim_wrapper) -> dict:
        """POA's split-backward step (:func:`split_train_step`)."""
        return split_train_step(self, forward, data, optim_wrapper)

    def train_step(self, data, optim_wrapper):
        """The joint step, or with ``split_backward`` the split one."""
        if not self.uses_split_step:
            return super().train_step(data, optim_wrapper)
        return self.split_train_step(self, data, optim_wrapper)

    def extract_feat(self, inputs, data_samples=None, **kwargs):
        """Teacher features of the teacher's active sub-network."""
        return self.teacher['backbone'].forward_tokens(inputs)[0]


def split_train_step(model: POA, forward, data, optim_wrapper) -> dict:
    """POA's split-backward step. ``forward`` is the model or its DDP
    wrapper: the intact phase runs under its ``no_sync`` so that the
    gradients are all-reduced once, after the elastic phase."""
    if not hasattr(optim_wrapper, 'finish_step'):
        raise TypeError(
            f'POA(split_backward=True) needs optim_wrapper='
            f"dict(type='POAOptimWrapper', ...), got "
            f'{type(optim_wrapper).__name__}')
    no_sync = getattr(forward, 'no_sync', None)
    with optim_wrapper.optim_context(model):
        data = model.data_preprocessor(data, True)
    log_vars, total = {}, 0.
    for phase in ('intact', 'elastic'):
        sync = no_sync() if phase == 'intact' and no_sync else nullcontext()
        with sync:
            with optim_wrapper.optim_context(model):
                terms = forward(**data, mode='loss', phase=phase)
            loss, parts = model.parse_losses(terms)
            optim_wrapper.backward(loss)
        total = total + loss.detach()
        for key, value in parts.items():
            log_vars[key] = log_vars.get(key, 0.) + value.detach()
    optim_wrapper.finish_step(total)
    return log_vars

"""POA: teacher, intact student and elastic student trained together."""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from poa_mm.elastic import SubnetSpec


@MODELS.register_module()
class POA(BaseSelfSupervisor):
    """`POA <https://arxiv.org/abs/2408.01031>`_: pre-training once for
    models of all sizes.

    Every step, a teacher (EMA of backbone and heads, intact network, eval
    mode) sees the global crops; the intact student and the elastic student
    (the sub-network set by :class:`ElasticSamplingHook`, sharing the
    weights) see the global crops (masked while iBOT is active) and the
    local crops. Losses follow the official code (POA_SPEC 2.3)::

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
        n_global_crops (int): Defaults to 2.
        use_elastic (bool): False switches the elastic branch off (a
            DINOv2-style two-branch step). Defaults to True.
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
                 n_global_crops: int = 2,
                 use_elastic: bool = True,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
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
        self.lambda_intact = lambda_intact if use_elastic else 1.
        self.koleo_weight = koleo_weight
        self.n_global = n_global_crops
        self.use_elastic = use_elastic
        self.teacher = nn.ModuleDict(
            dict(backbone=copy.deepcopy(self.backbone),
                 head=copy.deepcopy(self.head)))
        self.teacher.requires_grad_(False)
        # Set every iteration by POAScheduleHook / ElasticSamplingHook.
        self.teacher_temp = 0.07
        self.ibot_active = True
        self.elastic_subnet: Optional[SubnetSpec] = None

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
    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, Tensor]:
        g, l = inputs['global_crops'], inputs['local_crops']
        masks, weights = inputs['masks'], inputs['mask_weights']
        # From the schedule only, never from this rank's masks: the iBOT
        # Sinkhorn-Knopp all-reduces must run on every rank or on none.
        ibot = bool(self.ibot_active)
        targets = self._teacher_targets(g, masks, ibot)
        intact = self._student(self.backbone.search_space.intact, g, l,
                               masks, ibot)
        branches = [(self.lambda_intact, intact)]
        if self.use_elastic:
            if self.elastic_subnet is None:
                raise RuntimeError(
                    'POA needs a sampled elastic sub-network: add '
                    'ElasticSamplingHook to custom_hooks or set '
                    'model.elastic_subnet')
            elastic = self._student(self.elastic_subnet, g, l, masks, ibot)
            branches.append((1 - self.lambda_intact, elastic))

        n_pairs = self.dino_loss.num_pairs(self.n_global,
                                           l.shape[0] // (g.shape[0] //
                                                          self.n_global))
        dino, same_view, ibot_loss = [], [], []
        for h, t in enumerate(targets):
            dino.append(
                sum(w * self.dino_loss(b['glob'][h], b['local'][h], t['cls'],
                                       self.n_global)
                    for w, b in branches) / n_pairs)
            if self.use_elastic:
                same_view.append(
                    self.same_view_loss([
                        (intact['glob'][h], elastic['glob'][h]),
                        (intact['local'][h], elastic['local'][h]),
                    ]))
            if ibot:
                ibot_loss.append(
                    sum(w * self.ibot_loss(b['patch'][h], t['patch'],
                                           weights, g.shape[0])
                        for w, b in branches))
        zero = g.new_zeros(())
        koleo = sum(
            self.koleo_loss(c)
            for _, b in branches for c in b['cls_global'].chunk(self.n_global))
        koleo = koleo / len(branches)

        def mean(terms: Sequence) -> Tensor:
            return sum(terms) / len(targets) if terms else zero

        return dict(
            loss_dino=mean(dino),
            loss_same_view=(1 - self.lambda_intact) * mean(same_view),
            loss_ibot=mean(ibot_loss),
            loss_koleo=self.koleo_weight * koleo)

    def extract_feat(self, inputs, data_samples=None, **kwargs):
        """Teacher features of the teacher's active sub-network."""
        return self.teacher['backbone'].forward_tokens(inputs)[0]

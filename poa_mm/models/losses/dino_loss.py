"""Cross-view DINO loss on CLS logits, with Sinkhorn-Knopp targets."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

from .sinkhorn_knopp import SinkhornTargetLoss


def cross_entropy(targets: Tensor, logits: Tensor,
                  temperature: float) -> Tensor:
    """Per-row ``-sum_k p_k log softmax(z / T)_k``."""
    return -(targets * F.log_softmax(logits.float() / temperature,
                                     dim=-1)).sum(dim=-1)


@MODELS.register_module()
class DINOClsLoss(SinkhornTargetLoss):
    """DINO loss between student views and the teacher's global crops.

    Every student global crop is paired with the *other* teacher crop, every
    local crop with both teacher crops. :meth:`forward` returns the sum over
    pairs of the per-pair mean cross-entropy; divide by :meth:`num_pairs`
    to get DINOv2's normalisation. Teacher targets (``teacher_targets``)
    keep the crop-major row order ``[crop1 of all B; crop2 of all B]``.

    Args:
        student_temp (float): Defaults to 0.1.
        sinkhorn_iterations (int): Defaults to 3.
    """

    @staticmethod
    def num_pairs(n_global: int, n_local: int) -> int:
        return n_global * (n_global - 1) + n_local * n_global

    def forward(self, student_global: Tensor, student_local: Tensor,
                targets: Tensor, n_global: int = 2) -> Tensor:
        """Sum over (student view, teacher crop) pairs of mean CE.

        Args:
            student_global (Tensor): (n_global * B, K), crop-major.
            student_local (Tensor): (n_local * B, K), crop-major; may have 0
                rows.
            targets (Tensor): (n_global * B, K) teacher targets, crop-major.
        """
        t_chunks = targets.chunk(n_global)
        total = student_global.new_zeros((), dtype=torch.float32)
        for s, z in enumerate(student_global.chunk(n_global)):
            for t, p in enumerate(t_chunks):
                if s != t:
                    total = total + cross_entropy(p, z,
                                                  self.student_temp).mean()
        if student_local.shape[0]:
            n_local = student_local.shape[0] // t_chunks[0].shape[0]
            for z in student_local.chunk(n_local):
                for p in t_chunks:
                    total = total + cross_entropy(p, z,
                                                  self.student_temp).mean()
        return total


@MODELS.register_module()
class SameViewDistillLoss(nn.Module):
    """Same-view distillation intact -> elastic student (POA).

    The target is the intact student's own softmax at the student
    temperature, without centering or sharpening, and without gradient.

    Args:
        temperature (float): Defaults to 0.1.
    """

    def __init__(self, temperature: float = 0.1):
        super().__init__()
        self.temperature = temperature

    def forward(self, views: Sequence[tuple]) -> Tensor:
        """Sum over view groups of the mean CE.

        Args:
            views: ``(intact_logits, elastic_logits)`` pairs; POA passes the
                global crops and the local crops as two groups.
        """
        total = 0.
        for intact, elastic in views:
            if intact.shape[0] == 0:
                continue
            target = F.softmax(intact.detach().float() / self.temperature,
                               dim=-1)
            total = total + cross_entropy(target, elastic,
                                          self.temperature).mean()
        return total

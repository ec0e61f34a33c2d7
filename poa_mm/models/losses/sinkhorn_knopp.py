"""Sinkhorn-Knopp centering of teacher logits (DINOv2 / POA)."""
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.dist import is_distributed
from torch import Tensor


def _all_reduce(t: Tensor, op=None) -> Tensor:
    if is_distributed():
        dist.all_reduce(t, op=op or dist.ReduceOp.SUM)
    return t


@torch.no_grad()
def sinkhorn_knopp(logits: Tensor,
                   temperature: float,
                   n_iterations: int = 3,
                   n_samples: Optional[int] = None) -> Tensor:
    """Turn teacher logits (rows, K) into targets whose rows sum to 1.

    Prototype columns are balanced jointly over the rows of every rank
    (all-reduce when ``torch.distributed`` is initialised, local otherwise).

    Args:
        logits (Tensor): Teacher logits of this rank, (rows, K).
        temperature (float): Teacher temperature.
        n_iterations (int): Sinkhorn iterations. Defaults to 3.
        n_samples (int, optional): Total rows over all ranks. Defaults to
            None: ``rows * world_size``.
    """
    logits = logits.float() / temperature
    # exp(x - max) instead of exp(x): the same result after the global
    # normalisation below, without overflow.
    # A rank may hold no rows (no masked patch) but joins every all-reduce.
    peak = (logits.max() if logits.numel() else
            logits.new_tensor(float('-inf')))
    peak = _all_reduce(peak.clone(), dist.ReduceOp.MAX)
    q = torch.exp(logits - peak).t()  # (K, rows)
    n_protos = q.shape[0]
    if n_samples is None:
        world = dist.get_world_size() if is_distributed() else 1
        n_samples = q.shape[1] * world
    q /= _all_reduce(q.sum())
    for _ in range(n_iterations):
        q /= _all_reduce(q.sum(dim=1, keepdim=True))
        q /= n_protos
        q /= q.sum(dim=0, keepdim=True)
        q /= n_samples
    q *= n_samples
    return q.t()


class SinkhornTargetLoss(nn.Module):
    """What the DINO and iBOT losses share: the student temperature of
    their cross-entropy and the Sinkhorn-Knopp iterations of their teacher
    targets.

    Args:
        student_temp (float): Defaults to 0.1.
        sinkhorn_iterations (int): Defaults to 3.
    """

    def __init__(self, student_temp: float = 0.1,
                 sinkhorn_iterations: int = 3):
        super().__init__()
        self.student_temp = student_temp
        self.sinkhorn_iterations = sinkhorn_iterations

    def teacher_targets(self, teacher_logits: Tensor, teacher_temp: float,
                        n_samples: Optional[int] = None) -> Tensor:
        """Sinkhorn-Knopp targets of the teacher's rows (order kept)."""
        return sinkhorn_knopp(teacher_logits, teacher_temp,
                              self.sinkhorn_iterations, n_samples)

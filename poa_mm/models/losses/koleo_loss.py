"""KoLeo regulariser (Kozachenko-Leonenko entropy estimator)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class KoLeoLoss(nn.Module):
    """``-(1/B) sum_i log(min_{j!=i} ||z_i - z_j|| + eps)`` on L2-normalised
    features, computed in fp32 (DINOv2 / POA).

    Args:
        eps (float): Defaults to 1e-8.
    """

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, features: Tensor) -> Tensor:
        z = F.normalize(features.float(), dim=-1, eps=self.eps)
        with torch.no_grad():
            sim = z @ z.t()
            sim.fill_diagonal_(-2.)
            nearest = sim.argmax(dim=1)
        dist = (z - z[nearest]).norm(dim=-1)
        return -torch.log(dist + self.eps).mean()

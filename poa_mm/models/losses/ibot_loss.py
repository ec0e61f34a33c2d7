"""iBOT masked-patch loss with Sinkhorn-Knopp targets."""
import torch
import torch.distributed as dist
from mmengine.dist import is_distributed
from mmpretrain.registry import MODELS
from torch import Tensor

from .dino_loss import cross_entropy
from .sinkhorn_knopp import SinkhornTargetLoss


@MODELS.register_module()
class IBOTPatchLoss(SinkhornTargetLoss):
    """Masked-image-modelling loss on patch logits (iBOT / DINOv2).

    Each crop's masked patches are averaged (weight ``1 / |M_i|``) and the
    crops are averaged over *all* global crops, masked or not.

    Args:
        student_temp (float): Defaults to 0.1.
        sinkhorn_iterations (int): Defaults to 3.
    """

    def teacher_targets(self, teacher_logits: Tensor,
                        teacher_temp: float) -> Tensor:
        """Targets of this rank's masked patches, balanced over all ranks'
        masked patches (their total is all-reduced)."""
        n = torch.tensor(teacher_logits.shape[0], device=teacher_logits.device)
        if is_distributed():
            dist.all_reduce(n)
        return super().teacher_targets(teacher_logits, teacher_temp, int(n))

    def forward(self, student_logits: Tensor, targets: Tensor,
                patch_weights: Tensor, n_crops: int) -> Tensor:
        """
        Args:
            student_logits (Tensor): Logits of the masked patches (M, K).
            targets (Tensor): Teacher targets of the same patches (M, K).
            patch_weights (Tensor): ``1 / |M_i|`` of each patch's crop (M,).
            n_crops (int): The number of global crops (masked or not).
        """
        ce = cross_entropy(targets, student_logits, self.student_temp)
        return (ce * patch_weights).sum() / n_crops

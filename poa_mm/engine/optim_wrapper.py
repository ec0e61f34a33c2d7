"""An optimizer wrapper running forward passes under bf16 autocast."""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast
from mmpretrain.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class BF16AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` enters bf16 autocast.

    Unlike ``AmpOptimWrapper`` it works on CPU as well as GPU and needs no
    gradient scaler (bf16 has fp32's exponent range).
    """
    dtype = torch.bfloat16  # read by FamilyKNNHook

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), autocast(dtype=self.dtype):
            yield

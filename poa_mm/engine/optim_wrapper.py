"""POA's optimizer wrapper (non-finite-loss guard, per-module gradient
clipping, optional autocast) and a bf16-autocast wrapper for other models."""
import logging
from collections import defaultdict
from contextlib import contextmanager
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.dist import is_distributed
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast
from mmpretrain.registry import OPTIM_WRAPPERS

from .param_groups import CLIP_GROUP


class NonFiniteLossError(RuntimeError):
    """Too many consecutive steps with a non-finite loss."""


@OPTIM_WRAPPERS.register_module()
class POAOptimWrapper(OptimWrapper):
    """Clips gradients per module (``clip_group`` of each parameter group:
    backbone and heads separately) before every step, skips steps whose loss
    is not finite, and optionally runs the forward passes under autocast.

    A step whose loss is NaN or Inf on any rank (all ranks agree) runs its
    backward, so that DDP's collectives stay aligned, then drops the
    gradients: no optimizer step and, through :attr:`step_skipped`, no EMA
    update (as the official code). Skipped steps are counted in the log
    (``skipped_steps``); ``max_nonfinite_steps`` in a row raise
    :class:`NonFiniteLossError` before anything else of that iteration
    runs, so no checkpoint is written from a diverged run.

    Args:
        max_grad_norm (float, optional): Defaults to 1.5 (POA).
        dtype (str, optional): 'bfloat16' or 'float16' autocast; None for
            fp32. Defaults to None.
        max_nonfinite_steps (int): Defaults to 10.
        cpu_autocast (bool): Run the autocast ``dtype`` on CPU too. bf16
            autocast of a POA step on CPU can be 20x slower than fp32 (a
            ViT-L/16 step: over 15 minutes against 40 s), so by default a
            model on the CPU runs fp32, with one warning; ``tools/train.py
            --amp`` sets it. Defaults to False.
    """

    def __init__(self, optimizer, max_grad_norm: Optional[float] = 1.5,
                 dtype: Optional[str] = None, max_nonfinite_steps: int = 10,
                 cpu_autocast: bool = False, **kwargs):
        super().__init__(optimizer, **kwargs)
        self.max_grad_norm = max_grad_norm
        self.dtype = getattr(torch, dtype) if dtype else None
        self.cpu_autocast = cpu_autocast
        self._device_checked = False
        self.max_nonfinite_steps = max_nonfinite_steps
        self.step_skipped = False
        self.skipped_steps = 0
        self.nonfinite_in_a_row = 0

    @staticmethod
    def _finite_everywhere(loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).all().float().reshape(1)
        if is_distributed():
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        return bool(finite.item())

    def _count_skip(self) -> None:
        self.skipped_steps += 1
        self.nonfinite_in_a_row += 1
        self.message_hub.update_scalar('train/skipped_steps',
                                       self.skipped_steps)
        iteration = self.message_hub.get_info('iter', -1)
        if self.nonfinite_in_a_row >= self.max_nonfinite_steps:
            raise NonFiniteLossError(
                f'the loss was not finite for {self.nonfinite_in_a_row} '
                f'steps in a row (last at iteration {iteration + 1})')

    def update_params(self, loss: torch.Tensor, step_kwargs=None,
                      zero_kwargs=None) -> None:
        self.step_skipped = not self._finite_everywhere(loss)
        if not self.step_skipped:
            self.nonfinite_in_a_row = 0
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        self._count_skip()
        self.backward(self.scale_loss(loss))
        self.zero_grad(**(zero_kwargs or {}))

    def finish_step(self, loss: torch.Tensor) -> None:
        """Step and zero the gradients that earlier ``backward`` calls
        accumulated (POA's split backward), or drop them when ``loss`` (the
        step's total) is not finite on some rank."""
        self.step_skipped = not self._finite_everywhere(loss)
        if self.step_skipped:
            self._count_skip()
        else:
            self.nonfinite_in_a_row = 0
            self.step()
        self.zero_grad()

    def _check_device(self, model) -> None:
        if self._device_checked or self.dtype is None:
            return
        self._device_checked = True
        param = next(model.parameters(), None)
        if param is not None and param.device.type == 'cpu' and \
                not self.cpu_autocast:
            print_log(
                f'POAOptimWrapper: {self.dtype} autocast on the CPU can be '
                'about 20x slower than fp32 for POA; running fp32 (set '
                'optim_wrapper.cpu_autocast=True or use tools/train.py --amp '
                'to keep it)', logger='current', level=logging.WARNING)
            self.dtype = None

    @contextmanager
    def optim_context(self, model):
        self._check_device(model)
        with super().optim_context(model):
            if self.dtype is None:
                yield
            else:
                with autocast(dtype=self.dtype):
                    yield

    def step(self, **kwargs) -> None:
        if self.max_grad_norm:
            by_module = defaultdict(list)
            for group in self.optimizer.param_groups:
                by_module[group.get(CLIP_GROUP, 'all')] += [
                    p for p in group['params'] if p.grad is not None
                ]
            for name, params in sorted(by_module.items()):
                if params:
                    norm = nn.utils.clip_grad_norm_(params,
                                                    self.max_grad_norm)
                    self.message_hub.update_scalar(f'train/grad_norm_{name}',
                                                   float(norm))
        super().step(**kwargs)


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

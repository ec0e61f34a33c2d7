"""POA's parameter groups and per-module gradient clipping."""
import logging
from collections import defaultdict
from contextlib import contextmanager
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.dist import is_distributed
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.runner.amp import autocast
from mmpretrain.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                                 OPTIMIZERS)

from .downstream import layer_decay_scale
from .hooks import unwrap_model


def _no_weight_decay(name: str, param: torch.Tensor) -> bool:
    # Biases, norms and LayerScale are not decayed (DINOv2/POA); 1-D
    # parameters are exactly those here, whatever their names.
    return param.ndim == 1 or 'norm' in name or 'gamma' in name


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class POAOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """One parameter group per trainable parameter, tagged for POA.

    Each group carries ``lr_mult`` (layer-wise decay
    ``decay ** (num_layers + 1 - layer_id)`` from the backbone's
    ``get_layer_depth``, times ``patch_embed_lr_mult`` for the patch
    embedding; heads get 1), ``wd_mult`` (0 for biases, norms and
    LayerScale: the backbone's ``no_weight_decay``), ``last_layer`` (the
    heads' prototypes, frozen at first) and ``clip_group`` ('backbone' or
    'head'), read by :class:`POAScheduleHook` and :class:`POAOptimWrapper`.
    The teacher has no trainable parameters and gets no group.

    ``paramwise_cfg``: ``layer_decay_rate`` (default 1.0),
    ``patch_embed_lr_mult`` (default 1.0) and ``merge_groups`` (default
    False): one group per distinct (``lr_mult``, ``wd_mult``,
    ``last_layer``, ``clip_group``) instead of one per parameter, the same
    update with about 6x fewer groups for the foreach / fused optimizer
    kernels to walk (group ``param_names`` lists its parameters). The
    optimizer state of a checkpoint only resumes with the same setting.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        model = unwrap_model(model)
        cfg = self.paramwise_cfg or {}
        decay = cfg.get('layer_decay_rate', 1.)
        patch_mult = cfg.get('patch_embed_lr_mult', 1.)
        backbone = model.backbone
        groups, merged = [], {}
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            if name.startswith('backbone.'):
                lr_mult = layer_decay_scale(backbone, name, decay)
                if name.startswith('backbone.patch_embed'):
                    lr_mult *= patch_mult
                clip = 'backbone'
                exempt = backbone.no_weight_decay(name[len('backbone.'):],
                                                  param)
            else:
                lr_mult, clip = 1., 'head'
                exempt = _no_weight_decay(name, param)
            tags = dict(lr_mult=lr_mult, wd_mult=0. if exempt else 1.,
                        last_layer='last_layer' in name, clip_group=clip)
            key = tuple(tags.values())
            if cfg.get('merge_groups', False) and key in merged:
                merged[key]['params'].append(param)
                merged[key]['param_names'].append(name)
                continue
            groups.append(dict(params=[param], param_name=name,
                               param_names=[name],
                               lr=self.base_lr * lr_mult,
                               weight_decay=self.base_wd, **tags))
            merged[key] = groups[-1]
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(
            self.optim_wrapper_cfg, default_args=dict(optimizer=optimizer))


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
                by_module[group.get('clip_group', 'all')] += [
                    p for p in group['params'] if p.grad is not None
                ]
            for name, params in sorted(by_module.items()):
                if params:
                    norm = nn.utils.clip_grad_norm_(params,
                                                    self.max_grad_norm)
                    self.message_hub.update_scalar(f'train/grad_norm_{name}',
                                                   float(norm))
        super().step(**kwargs)

"""POA's parameter groups: layer-wise lr decay, weight-decay exemptions,
the frozen last layer and the gradient-clipping groups."""
import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmpretrain.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                                 OPTIMIZERS)

from ..utils import check_keys
from .model_wrapper import unwrap_model
from .param_groups import (CLIP_GROUP, LAST_LAYER, LR_MULT, WD_MULT,
                           layer_decay_scale, no_weight_decay)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class POAOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """One parameter group per trainable parameter, tagged for POA.

    Each group carries ``lr_mult`` (layer-wise decay
    ``decay ** (num_layers + 1 - layer_id)`` from the backbone's
    ``get_layer_depth``, times ``patch_embed_lr_mult`` for the patch
    embedding; heads get 1), ``wd_mult`` (0 for biases, norms and
    LayerScale: :func:`no_weight_decay`), ``last_layer`` (the
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
        check_keys('POAOptimWrapperConstructor paramwise_cfg', cfg,
                   ('layer_decay_rate', 'patch_embed_lr_mult',
                    'merge_groups'))
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
                exempt = no_weight_decay(backbone, name[len('backbone.'):],
                                         param)
            else:
                lr_mult, clip = 1., 'head'
                exempt = no_weight_decay(model, name, param)
            tags = {LR_MULT: lr_mult, WD_MULT: 0. if exempt else 1.,
                    LAST_LAYER: 'last_layer' in name, CLIP_GROUP: clip}
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

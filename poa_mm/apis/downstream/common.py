"""What the MMPretrain, MMDetection and MMSegmentation config writers
share: the extracted checkpoint, its family's descriptor, the backbone, the
input scale check, the optimizer, the weight-check hook and writing the
file."""
import logging
import os.path as osp
from typing import Optional, Sequence, Tuple

from mmengine.config import Config

from ...fileio import write_atomic
from ..extract import load_subnet_checkpoint


def registered_family(meta: dict, descriptor: str):
    """The registered elastic family class an extracted checkpoint came
    from, refused in one line unless it has ``descriptor`` (e.g.
    ``downstream_spec``)."""
    from mmpretrain.registry import MODELS
    name = meta.get('elastic_backbone')
    family = MODELS.get(name) if isinstance(name, str) else None
    if family is None or not hasattr(family, descriptor):
        raise ValueError(
            f'the extracted checkpoint comes from {name!r}, which is not a '
            f'registered elastic backbone with a {descriptor}')
    return family


def family_spec(meta: dict) -> dict:
    """The downstream descriptor of the elastic family an extracted
    checkpoint came from (``downstream_spec`` of its registered class)."""
    return registered_family(meta, 'downstream_spec').downstream_spec(
        meta['backbone_cfg'])


def open_subnet(ckpt_path: str, data_root: str, template: str,
                templates) -> Tuple[str, str, dict, dict]:
    """Checked inputs of a config writer: absolute checkpoint path and data
    root, the extracted checkpoint's metadata and its family's
    descriptor."""
    if template not in templates:
        raise ValueError(f'unknown template {template!r}; choose from '
                         f'{sorted(templates)}')
    ckpt_path = osp.abspath(ckpt_path)
    meta = load_subnet_checkpoint(ckpt_path)['meta']
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'data root not found: {data_root}')
    return ckpt_path, osp.abspath(data_root), meta, family_spec(meta)


def backbone_cfg(ckpt_path: str, meta: dict, spec: dict,
                 frozen: bool = False) -> dict:
    """The extracted backbone, initialised from its checkpoint."""
    cfg = dict(meta['backbone_cfg'])
    cfg['init_cfg'] = dict(type='Pretrained', checkpoint=ckpt_path,
                           prefix='backbone.')
    if spec['drop_path_rate'] is not None:
        cfg['drop_path_rate'] = spec['drop_path_rate']
    if frozen:
        cfg['frozen_stages'] = spec['frozen_stages']
    return cfg


# One image's fp32 attention scores in one layer of a global-attention
# backbone: above the first a run is slow (a warning names the figure),
# above the second no single GPU holds them (refused).
ATTENTION_WARN_BYTES = 2 ** 30
ATTENTION_LIMIT_BYTES = 64 * 2 ** 30


def check_attention_scale(backbone: dict, hw: Tuple[int, int],
                          option: str) -> Optional[str]:
    """Whether a global-attention backbone (the exported ViT) fits inputs
    of ``hw`` (height, width): ``ValueError`` in one line where one image's
    attention scores in one layer exceed :data:`ATTENTION_LIMIT_BYTES`, a
    one-line warning (logged and returned) above
    :data:`ATTENTION_WARN_BYTES`, else None. Windowed (Swin) and
    convolutional backbones always pass."""
    from mmengine.logging import print_log
    if backbone.get('type') != 'mmpretrain.VisionTransformer':
        return None
    patch = backbone.get('patch_size', 16)
    heads = backbone['arch'].get('num_heads', 1) if isinstance(
        backbone.get('arch'), dict) else 1
    tokens = (hw[0] // patch) * (hw[1] // patch) + 1
    scores = heads * tokens ** 2 * 4
    figure = (f'{option} {hw[0]}x{hw[1]} (HxW) gives {tokens} tokens per '
              f'image at patch {patch}: global attention holds '
              f'{scores / 2 ** 30:.1f} GiB of fp32 scores per image and '
              f'layer ({heads} heads)')
    side = int((4096 ** .5) * patch)  # about 4k tokens
    if scores > ATTENTION_LIMIT_BYTES:
        raise ValueError(f'{figure}, more than one GPU holds; choose a '
                         f'smaller {option} (e.g. {side} for 4k tokens)')
    if scores <= ATTENTION_WARN_BYTES:
        return None
    warning = (f'{figure}; expect slow iterations and large memory (a '
               f'smaller {option}, e.g. {side}, gives 4k tokens)')
    print_log(warning, logger='current', level=logging.WARNING)
    return warning


def optimizer_cfg(spec: dict, lr: Optional[float],
                  layer_decay: Optional[float], defaults: dict) -> dict:
    """AdamW with layer-wise lr decay where the family uses it; paper
    settings by size class (``defaults``: small/base -> (lr, decay))."""
    base_lr, decay = defaults['small' if spec['small'] else 'base']
    if not spec['layer_decay']:
        decay = 1.0
    return dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=lr or base_lr, betas=(0.9, 0.999),
                       weight_decay=0.05),
        constructor='mmpretrain.BackboneLayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=layer_decay or decay))


def add_weight_check(cfg: Config, ckpt_path: str, meta: dict) -> None:
    """Import poa_mm, refuse to train unless the backbone holds exactly the
    extracted weights, and record which sub-network this is."""
    imports = ['poa_mm']
    cfg.custom_imports = dict(imports=imports, allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='mmpretrain.PretrainedBackboneCheckHook',
             checkpoint=ckpt_path, prefix='backbone.')
    ]
    cfg.poa_subnet = dict(subnet=meta['subnet'],
                          source_sha256=meta['source_sha256'])


def expanded_strings(value, where: str = 'config') -> list:
    """``(where, text)`` of every string in ``value`` that MMEngine would
    expand when it loads the written config (``{{ $ENV }}``, ``{{ _base_.x
    }}``, ``{{ fileDirname }}``, ...): values from files must not steer
    it."""
    if isinstance(value, str):
        return [(where, value)] if '{{' in value or '}}' in value else []
    if isinstance(value, dict):
        return [hit for k, v in value.items()
                for hit in expanded_strings(v, f'{where}.{k}')]
    if isinstance(value, (list, tuple)):
        return [hit for i, v in enumerate(value)
                for hit in expanded_strings(v, f'{where}.{i}')]
    return []


def _plain(value):
    """Tuples as lists, recursively: how a dumped config compares."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_config(cfg: Config, out: str, overwrite: bool = False,
                 inputs: Sequence[Optional[str]] = ()) -> None:
    """Dump ``cfg`` to ``out`` atomically (never over one of ``inputs``,
    over another file only with ``overwrite``), then load the written file
    back and refuse it unless it reads as ``cfg``: no value can be expanded
    by MMEngine's placeholders or break its parser."""
    wanted = cfg.to_dict()
    hits = expanded_strings(wanted)
    if hits:
        where, text = hits[0]
        raise ValueError(f'{where} = {text!r}: braces "{{{{ }}}}" would be '
                         'expanded by MMEngine when the config is loaded; '
                         'rename the file, folder or class')

    def dump_and_check(tmp: str) -> None:
        cfg.dump(tmp)
        try:
            loaded = Config.fromfile(tmp).to_dict()
        except Exception as e:  # e.g. "bad escape" from a crafted value
            raise ValueError(f'the written config does not load back: '
                             f'{type(e).__name__}: {e}') from e
        changed = sorted(k for k in wanted
                         if _plain(loaded.get(k)) != _plain(wanted[k]))
        if changed:
            raise ValueError(f'the written config loads back with other '
                             f'values under {changed}')

    write_atomic(out, dump_and_check, overwrite, inputs)

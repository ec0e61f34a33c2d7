"""``checkpoint['poa_mm']``: what a training run stores beside its weights,
written here and read back here.

- ``model_type`` and ``backbone_cfg`` (and for an ``ElasticImageClassifier``
  ``head_cfg`` and ``neck_cfg``) as plain data, so that tools rebuild the
  supernet without executing the config text stored in ``meta.cfg``;
- ``recipe``: the settings a run cannot change and still resume (the
  supernet, the head, the crop layout), flattened to ``{key: value}``, so
  that ``tools/train.py --resume`` refuses a changed config by name.
"""
from typing import Dict, List, Optional

# Backbone settings a resumed run may change: they do not alter the
# network the optimizer state belongs to.
RESUMABLE_BACKBONE_KEYS = ('init_cfg', 'drop_path_rate', 'with_cp')


def plain(cfg) -> dict:
    """A config dict (``ConfigDict`` or ``dict``) as a plain ``dict``."""
    return cfg.to_dict() if hasattr(cfg, 'to_dict') else dict(cfg)


def supernet_metadata(model_cfg) -> dict:
    """``model_type`` and ``backbone_cfg`` (plus the classifier's head and
    neck) of a model config, as plain data."""
    meta = dict(model_type=str(model_cfg.get('type')),
                backbone_cfg=plain(model_cfg['backbone']))
    if meta['model_type'].split('.')[-1] == 'ElasticImageClassifier':
        meta.update(head_cfg=plain(model_cfg['head']),
                    neck_cfg=plain(model_cfg['neck'])
                    if model_cfg.get('neck') else None)
        meta['backbone_cfg'].pop('init_cfg', None)
    return meta


def _flatten(prefix: str, value, out: Dict[str, object]) -> None:
    if isinstance(value, dict):
        for key in sorted(value):
            _flatten(f'{prefix}.{key}', value[key], out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = [v if isinstance(v, (int, float, str, bool)) or
                       v is None else repr(v) for v in value]
    else:
        out[prefix] = value if isinstance(
            value, (int, float, str, bool)) or value is None else repr(value)


def _crop_transforms(cfg) -> List[dict]:
    """The training pipeline's multi-crop transforms (the crop layout)."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while 'dataset' in dataset:  # RepeatDataset and other wrappers
        dataset = dataset['dataset']
    return [plain(t) for t in dataset.get('pipeline') or []
            if isinstance(t, dict) and
            str(t.get('type', '')).endswith('MultiCrop')]


def resume_recipe(cfg) -> Dict[str, object]:
    """The settings of a training config that a resumed run must share
    with the run that wrote the checkpoint: model type, the backbone (its
    family, arch and structure), the head, the crop layout."""
    model = cfg.get('model') or {}
    out: Dict[str, object] = {'model.type': str(model.get('type'))}
    backbone = {k: v for k, v in plain(model.get('backbone') or {}).items()
                if k not in RESUMABLE_BACKBONE_KEYS}
    _flatten('model.backbone', backbone, out)
    head = {k: v for k, v in plain(model.get('head') or {}).items()
            if k != 'init_cfg'}
    _flatten('model.head', head, out)
    for i, crop in enumerate(_crop_transforms(cfg)):
        _flatten(f'crops.{i}', crop, out)
    return out


def run_metadata(cfg) -> Optional[dict]:
    """``checkpoint['poa_mm']`` for a Runner's config, or None for a model
    without a backbone."""
    model_cfg = (cfg or {}).get('model')
    if model_cfg is None or 'backbone' not in model_cfg:
        return None
    meta = supernet_metadata(model_cfg)
    meta['recipe'] = resume_recipe(cfg)
    return meta


def recipe_changes(saved: dict, ours: dict) -> List[str]:
    """``'key (run: A, config: B)'`` for each recipe setting that differs
    between a checkpoint's run and a config (keys of either side)."""
    missing = '<unset>'
    return [f'{key} (run: {saved.get(key, missing)!r}, config: '
            f'{ours.get(key, missing)!r})'
            for key in sorted(set(saved) | set(ours))
            if saved.get(key, missing) != ours.get(key, missing)]


__all__ = ['supernet_metadata', 'resume_recipe', 'run_metadata',
           'recipe_changes']

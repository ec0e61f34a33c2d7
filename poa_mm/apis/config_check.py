"""One-line answers for configs that would fail (or silently do nothing)
deep inside the Runner: ``--cfg-options`` keys that nothing reads, and data
folders that do not exist."""
import importlib
import inspect
import os
import os.path as osp
import re
from typing import Iterable, List, Optional

from mmengine.config import Config
from mmengine.registry import Registry
from mmengine.runner import Runner

from ..utils import did_you_mean

# Top-level keys Runner.from_cfg reads beyond Runner.__init__'s arguments.
RUNNER_CFG_KEYS = ('model_wrapper_cfg', 'find_unused_parameters',
                   'auto_scale_lr', 'compile', 'custom_imports')


def _registries(scope: str) -> List[Registry]:
    names = ['mmpretrain', 'mmengine']
    if scope and scope not in names:
        names.insert(0, scope)
    found = []
    for name in names:
        try:
            module = importlib.import_module(f'{name}.registry')
        except ImportError:
            continue
        found += [v for v in vars(module).values() if isinstance(v, Registry)]
    return found


def _forwards_kwargs(init) -> bool:
    """Whether an ``__init__`` hands its ``**kwargs`` to the base class's."""
    try:
        source = inspect.getsource(init)
    except (OSError, TypeError):
        return False
    return re.search(r'super\(\)\.__init__\([^)]*\*\*kwargs', source) \
        is not None


def _signature_args(cls) -> Optional[List[str]]:
    """Keyword arguments ``cls`` takes, or None for any (``**kwargs``).
    ``**kwargs`` that an ``__init__`` forwards to its base class's are that
    class's arguments."""
    if not callable(cls):
        return None
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params if p.kind is not p.VAR_KEYWORD]
    if len(names) == len(params):
        return names
    if not isinstance(cls, type) or not _forwards_kwargs(cls.__init__):
        return None
    owner = next((c for c in cls.__mro__ if '__init__' in vars(c)), None)
    base = next((c for c in cls.__mro__[cls.__mro__.index(owner) + 1:]
                 if '__init__' in vars(c)), None) if owner else None
    if base is None or base is object:
        return None
    more = _signature_args(base)
    return None if more is None else names + more


def _accepted_args(type_, scope: str) -> Optional[Iterable[str]]:
    """Keyword arguments the class named by ``type_`` takes (of every
    registered class of that name, those any of them takes), or None when
    one takes any (``**kwargs``) or none can be found."""
    if not isinstance(type_, str):
        return _signature_args(type_)
    name = type_.split('.')[-1]
    found = {id(c): c for c in (registry.get(name)
                                for registry in _registries(scope))
             if c is not None}
    accepted = set()
    for cls in found.values():
        args = _signature_args(cls)
        if args is None:
            return None
        accepted.update(args)
    return sorted(accepted) if found else None


def _unknown(key: str, where: str, choices: Iterable[str]) -> str:
    return (f'--cfg-options {key}: {where}'
            + did_you_mean(key.split('.')[-1], choices))


def check_cfg_options(cfg, options: dict) -> Optional[str]:
    """Why a ``--cfg-options`` key would be ignored or fail (one line), or
    None.

    A key must name a setting of the config, or a new argument that the
    class of its (typed) parent dict accepts, or a new top-level setting the
    Runner reads. List items are addressed by index and must exist. Keys
    under dicts without a ``type`` (``default_hooks``, ``env_cfg``) and
    classes that take ``**kwargs`` cannot be checked and pass.
    """
    scope = cfg.get('default_scope') or 'mmpretrain'
    runner_keys = set(inspect.signature(Runner).parameters) | set(
        RUNNER_CFG_KEYS)
    root = cfg.to_dict()
    # A key is checked against the class its dict will build: apply the
    # options' own type changes first (train_cfg.type=EpochBasedTrainLoop
    # train_cfg.max_epochs=1).
    retyped = {k: v for k, v in options.items()
               if k.split('.')[-1] == 'type'}
    if retyped:
        copy = Config(root)
        copy.merge_from_dict(retyped)
        root = copy.to_dict()
    for key in options:
        node, path = root, []
        for part in key.split('.'):
            where = '.'.join(path) or 'the config'
            if isinstance(node, (list, tuple)):
                if not part.isdigit() or int(part) >= len(node):
                    return (f'--cfg-options {key}: {where} is a list of '
                            f'{len(node)} items; {part!r} is not one of its '
                            'indices')
                node = node[int(part)]
            elif isinstance(node, dict):
                if part not in node:
                    accepted = (runner_keys if not path else
                                _accepted_args(node.get('type'), scope)
                                if 'type' in node else None)
                    if accepted is not None and part not in accepted:
                        choices = set(node) | set(accepted)
                        return _unknown(key, f'no setting {part!r} in '
                                        f'{where}', choices)
                    break  # a new, accepted key: nothing below to check
                node = node[part]
            else:
                return (f'--cfg-options {key}: {where} is a '
                        f'{type(node).__name__}, not a dict or list')
            path.append(part)
    return None


# Keys the builders take out of a typed dict before calling its class:
# MMEngine's hook priority and optimizer-wrapper constructor, the registry
# scope, the config's delete marker, MMEngine's epoch-to-iteration
# scheduler conversion.
BUILDER_KEYS = ('type', '_scope_', '_delete_', 'priority', 'constructor',
                'paramwise_cfg', 'convert_to_iter_based')


# Dicts built by mmcv's layer builders or MMEngine's initialisers, which
# take keys of their own (``norm_cfg=dict(type='BN', requires_grad=True)``):
# not checked.
LAYER_CFG_KEYS = ('norm_cfg', 'act_cfg', 'conv_cfg', 'upsample_cfg',
                  'init_cfg', 'dcn', 'plugins')


def check_config_keys(cfg) -> Optional[str]:
    """Why a typed dict of the config would fail to build or silently
    ignore a setting (one line naming the key, its dict and the nearest
    valid name), or None.

    Every dict with a ``type`` is checked against the arguments of the
    class (or function) it names; classes that take ``**kwargs`` and names
    no registry knows pass.
    """
    scope = cfg.get('default_scope') or 'mmpretrain'
    todo = [(k, v) for k, v in cfg.to_dict().items()]
    while todo:
        where, node = todo.pop(0)
        if isinstance(node, (list, tuple)):
            todo += [(f'{where}.{i}', v) for i, v in enumerate(node)]
            continue
        if not isinstance(node, dict) or \
                where.split('.')[-1] in LAYER_CFG_KEYS:
            continue
        todo += [(f'{where}.{k}', v) for k, v in node.items()]
        if 'type' not in node:
            continue
        accepted = _accepted_args(node['type'], scope)
        if accepted is None:
            continue
        for key in node:
            if key not in accepted and key not in BUILDER_KEYS:
                name = node['type'] if isinstance(node['type'], str) else \
                    getattr(node['type'], '__name__', node['type'])
                return (f'{where}: {name} has no setting {key!r}'
                        + did_you_mean(key, accepted))
    return None


def check_data_roots(cfg) -> Optional[str]:
    """Why the training data cannot be read (one line): a ``data_root``
    (and its ``data_prefix`` folder) of the training dataset that does not
    exist, or None."""
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while 'dataset' in dataset:  # wrappers: RepeatDataset, ...
        dataset = dataset['dataset']
    root = dataset.get('data_root')
    if not root:
        return None
    if not osp.isdir(root):
        return (f'train_dataloader.dataset.data_root {root!r} is not a '
                'folder; prepare the data (docs/get_started.md) or set it '
                'with --cfg-options train_dataloader.dataset.data_root=PATH')
    prefix = dataset.get('data_prefix')
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path') or prefix.get('img')
    folder = root
    if isinstance(prefix, str) and prefix and '://' not in prefix:
        folder = osp.join(root, prefix)
        if not osp.exists(folder):
            return (f'train_dataloader.dataset: {folder!r} does not exist '
                    f'(data_root {root!r}, data_prefix {prefix!r})')
    if osp.isdir(folder) and not any(
            files for _, _, files in os.walk(folder)):
        return f'train_dataloader.dataset: {folder!r} holds no files'
    return None


__all__ = ['check_cfg_options', 'check_config_keys', 'check_data_roots']

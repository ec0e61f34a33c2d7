"""What the evaluation tools share: the POA model of a config with a
checkpoint's weights, and the labelled train/val folders."""
import csv
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence, Tuple

from mmengine.config import Config
from torch.utils.data import DataLoader

from .extract import load_poa_checkpoint
from ..evaluation.knn import (DEFAULT_PIPELINE, folder_classes,
                              folder_pair_loaders)


def load_poa_model(cfg: Config, checkpoint: Optional[str] = None,
                   device=None):
    """The config's POA model (random initial weights), or with the
    weights of ``checkpoint`` (loaded safely, strictly), in eval mode on
    ``device`` (default: the CPU)."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    model.init_weights()
    if checkpoint is not None:
        saved, state = load_poa_checkpoint(checkpoint)
        ours = cfg.model.backbone

        def arch(c):
            return str(c.get('type')).split('.')[-1], c.get('arch')

        if arch(saved) != arch(ours):
            raise ValueError(f'{checkpoint} holds the supernet {arch(saved)}, '
                             f'the config builds {arch(ours)}: give the '
                             'config the run was trained with')
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        wrong = sorted(set(shapes) ^ set(state)) or [
            k for k, v in state.items() if tuple(v.shape) != shapes[k]]
        if wrong:
            stored = tuple(state[wrong[0]].shape) if wrong[0] in state \
                else 'none'
            raise ValueError(
                f'{checkpoint} does not fit the config\'s model: '
                f'{wrong[0]} is {stored} in the checkpoint, '
                f'{shapes.get(wrong[0], "none")} in the config '
                f'({len(wrong)} tensors differ): give the config the run '
                'was trained with (its work dir holds a copy)')
        model.load_state_dict(state, strict=True)
    if device is not None:
        model.to(device)
    model.eval()
    return model


def labelled_loaders(cfg: Config, train_dir: Optional[str] = None,
                     val_dir: Optional[str] = None,
                     batch_size: Optional[int] = None,
                     num_workers: int = 0) -> Tuple[DataLoader, DataLoader]:
    """Loaders of the train and val folders (default: the config's
    ``knn_cfg``), val labels mapped to the training classes by name."""
    knn_cfg = cfg.get('knn_cfg', {})
    train_dir = train_dir or knn_cfg.get('train_dir')
    val_dir = val_dir or knn_cfg.get('val_dir')
    for name, folder in (('--train-dir', train_dir), ('--val-dir', val_dir)):
        if not folder or not osp.isdir(folder):
            raise FileNotFoundError(f'{name}: image folder {folder!r} not '
                                    'found')
    pipeline = knn_cfg.get('pipeline', DEFAULT_PIPELINE)
    batch_size = batch_size or knn_cfg.get('batch_size', 256)
    train, val = folder_pair_loaders(train_dir, val_dir, pipeline, batch_size,
                                     num_workers)
    classes = folder_classes(train)
    if len(classes) < 2:
        print(f'warning: {train_dir} has {len(classes)} class; accuracy is '
              'meaningless', file=sys.stderr)
    return train, val


def format_table(rows: Sequence[dict], cols: Sequence[str],
                 float_format: str = '.2f') -> str:
    """A plain-text table of ``cols`` (floats as ``float_format``)."""
    lines = [' | '.join(f'{c:>10}' for c in cols)]
    for r in rows:
        lines.append(' | '.join(
            f'{r[c]:>10{float_format}}' if isinstance(r.get(c), float) else
            f'{str(r.get(c, "")):>10}' for c in cols))
    return '\n'.join(lines)


def write_rows(rows: Sequence[dict], out_dir: str, name: str) -> None:
    """``{name}.json`` and ``{name}.csv`` in ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, f'{name}.json'), 'w') as f:
        json.dump(list(rows), f, indent=1)
    with open(osp.join(out_dir, f'{name}.csv'), 'w', newline='') as f:
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f'wrote {out_dir}/{name}.csv and {name}.json')

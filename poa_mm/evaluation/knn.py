"""Weighted k-NN evaluation of many sub-networks of a POA model."""
import copy
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.dataset import default_collate
from mmpretrain.registry import DATASETS
from torch import Tensor
from torch.utils.data import DataLoader

from poa_mm.elastic import SubnetSpec
from poa_mm.elastic.base import count_params

from .device import autocast_context, module_device


def build_folder_loader(folder: str, pipeline: Sequence[dict],
                        batch_size: int = 256, num_workers: int = 0,
                        classes: Optional[Sequence[str]] = None
                        ) -> DataLoader:
    """A deterministic loader over a labelled image folder
    (``folder/<class>/<image>``).

    With ``classes`` (the training folder's, in label order) the labels are
    mapped by class name, so a val folder with fewer or reordered classes
    keeps the right labels; a class not in ``classes`` is an error.
    """
    dataset = DATASETS.build(
        dict(type='CustomDataset', data_root=folder, data_prefix='',
             pipeline=copy.deepcopy(list(pipeline)), serialize_data=False))
    own = list(dataset.metainfo['classes'])
    counts = [0] * len(own)
    for info in dataset.data_list:
        counts[int(info['gt_label'])] += 1
    empty = [name for name, n in zip(own, counts) if n == 0]
    if empty:
        raise ValueError(f'{folder}: class folder(s) {empty} hold no '
                         'images')
    if classes is not None:
        classes = list(classes)
        missing = sorted(set(own) - set(classes))
        if missing:
            raise ValueError(f'{folder}: classes {missing} are not in the '
                             'training folder')
        mapping = [classes.index(name) for name in own]
        for info in dataset.data_list:
            info['gt_label'] = mapping[int(info['gt_label'])]
    return DataLoader(dataset, batch_size=batch_size, shuffle=False,
                      num_workers=num_workers, collate_fn=default_collate)


def folder_classes(loader: DataLoader) -> List[str]:
    """The class names of a :func:`build_folder_loader` loader."""
    return list(loader.dataset.metainfo['classes'])


# DINO's weighted k-NN protocol: the k values and the softmax temperature.
KNN_KS = (10, 20, 100, 200)
KNN_TEMPERATURE = 0.07
DEFAULT_PIPELINE = [dict(type='LoadCheckedImage'), dict(type='PackInputs')]


class CachedLoader:
    """The batches of a deterministic loader, decoded once and replayed:
    an evaluation reads the same folder once per sub-network and model, so
    the images are decoded on the first pass only. A folder whose batches
    exceed ``max_bytes`` is streamed every time instead. Keeps
    ``dataset``."""

    def __init__(self, loader: DataLoader, max_bytes: int = 2 << 30):
        self.loader = loader
        self.dataset = loader.dataset
        self.max_bytes = max_bytes
        self.batches: Optional[List[dict]] = None
        self.streaming = False

    def __iter__(self):
        if self.batches is not None:
            yield from self.batches
            return
        kept, size = [], 0
        for batch in self.loader:
            if not self.streaming:
                inputs = batch['inputs']
                size += sum(x.numel() * x.element_size() for x in (
                    inputs if isinstance(inputs, (list, tuple)) else
                    [inputs]))
                self.streaming = size > self.max_bytes
                if self.streaming:
                    kept = []
                else:
                    kept.append(batch)
            yield batch
        if not self.streaming:
            self.batches = kept

    def __len__(self) -> int:
        return len(self.loader)


def folder_pair_loaders(train_dir: str, val_dir: str,
                        pipeline: Sequence[dict] = DEFAULT_PIPELINE,
                        batch_size: int = 256, num_workers: int = 0,
                        cache: bool = True) -> Tuple[DataLoader, DataLoader]:
    """Loaders of a labelled train/val folder pair, the val labels mapped
    to the training classes by name; with ``cache`` (the default) decoded
    once and kept in memory (:class:`CachedLoader`)."""
    train = build_folder_loader(train_dir, pipeline, batch_size, num_workers)
    val = build_folder_loader(val_dir, pipeline, batch_size, num_workers,
                              folder_classes(train))
    if cache:
        return CachedLoader(train), CachedLoader(val)
    return train, val


def batch_labels(batch: dict, device: torch.device) -> Tensor:
    """The ``gt_label`` of every sample of a packed batch, on ``device``
    (where the features are: k-NN indexes the labels with them)."""
    return torch.cat([s.gt_label for s in batch['data_samples']]).to(device)


@torch.no_grad()
def subnet_features(model, spec: SubnetSpec, loader,
                    cache: Optional[dict] = None,
                    dtype: Optional[torch.dtype] = None
                    ) -> Tuple[Tensor, Tensor, Tensor]:
    """Teacher features of sub-network ``spec``: the normed CLS token, the
    average-pooled patch tokens (N, w) each (fp32), and the labels, all on
    the model's device. ``dtype``: the autocast precision of the forward
    passes (None: fp32).

    With ``cache`` (a dict shared by the k-NN and linear-probe passes of one
    evaluation) each (model, sub-network, loader) is computed once.
    """
    key = (id(model), str(spec), id(loader))
    if cache is not None and key in cache:
        return cache[key]
    backbone = model.teacher['backbone']
    device = module_device(backbone)
    cls, pooled, labels = [], [], []
    with backbone.subnet(spec):
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            with autocast_context(device, dtype):
                c, patch = backbone.forward_tokens(data['inputs'])
            cls.append(c.float())
            pooled.append(patch.float().mean(1))
            labels.append(batch_labels(batch, c.device))
    out = torch.cat(cls), torch.cat(pooled), torch.cat(labels)
    if cache is not None:
        cache[key] = out
    return out


def extract_features(model, spec: SubnetSpec, loader,
                     cache: Optional[dict] = None,
                     dtype: Optional[torch.dtype] = None
                     ) -> Tuple[Tensor, Tensor]:
    """L2-normalised teacher CLS features of sub-network ``spec`` and
    labels (what k-NN compares)."""
    cls, _, labels = subnet_features(model, spec, loader, cache, dtype)
    return F.normalize(cls, dim=-1), labels


def check_ks(ks: Sequence[int], bank: int, where: str = '') -> None:
    """``ValueError`` for a k larger than the memory bank of ``bank``
    images (k-NN would silently report k = bank); ``where`` prefixes the
    message (the bank's folder, the tool)."""
    too_large = [k for k in ks if k > bank]
    if too_large:
        raise ValueError(f'{where}k={too_large} is larger than the memory '
                         f'bank ({bank} images); choose k <= {bank}')


def weighted_knn(train_feats: Tensor, train_labels: Tensor,
                 test_feats: Tensor, test_labels: Tensor,
                 ks: Sequence[int] = KNN_KS,
                 temperature: float = KNN_TEMPERATURE,
                 chunk: int = 1024) -> Dict[int, float]:
    """Top-1 accuracy (%) of DINO's weighted k-NN classifier.

    Each test feature votes with its k most similar training features
    (cosine similarity), weighted by ``exp(sim / T)``. A k larger than
    the memory bank is refused (it would report the bank's size).
    """
    check_ks(ks, train_feats.shape[0])
    train_labels = train_labels.to(train_feats.device)
    test_labels = test_labels.to(test_feats.device)
    num_classes = int(train_labels.max()) + 1
    max_k = max(ks)
    correct = {k: 0 for k in ks}
    for start in range(0, test_feats.shape[0], chunk):
        sim = test_feats[start:start + chunk] @ train_feats.t()
        top_sim, top_idx = sim.topk(max_k, dim=1)
        votes = F.one_hot(train_labels[top_idx], num_classes).float()
        weights = (top_sim / temperature).exp().unsqueeze(-1)
        truth = test_labels[start:start + chunk]
        for k in ks:
            scores = (votes[:, :k] * weights[:, :k]).sum(dim=1)
            correct[k] += int((scores.argmax(dim=1) == truth).sum())
    return {k: 100. * correct[k] / test_feats.shape[0] for k in ks}


@torch.no_grad()
def pixel_features(model, loader: DataLoader) -> Tuple[Tensor, Tensor]:
    """L2-normalised flattened images (after the model's normalisation):
    the raw-pixel baseline of a k-NN table."""
    feats, labels = [], []
    for batch in loader:
        inputs = model.data_preprocessor(batch, False)['inputs']
        feats.append(F.normalize(inputs.flatten(1).float(), dim=-1))
        labels.append(batch_labels(batch, inputs.device))
    return torch.cat(feats), torch.cat(labels)


def raw_pixel_row(model, train_loader: DataLoader, val_loader: DataLoader,
                  ks: Sequence[int] = KNN_KS,
                  temperature: float = KNN_TEMPERATURE) -> dict:
    """The k-NN row of the raw pixels, with the same bank and queries."""
    acc = weighted_knn(*pixel_features(model, train_loader),
                       *pixel_features(model, val_loader), ks=ks,
                       temperature=temperature)
    return dict(subnet='raw pixels', params_m=0., baseline=True,
                **{f'k{k}': v for k, v in acc.items()})


def elapsed_and_eta(start: float, done: int, total: int) -> str:
    """``'(12 s, ETA 30 s)'`` after ``done`` of ``total`` equal-cost steps
    begun at ``start`` (``time.time()``)."""
    spent = time.time() - start
    return f'({spent:.0f} s, ETA {spent / done * (total - done):.0f} s)'


def subnet_params(model, spec: SubnetSpec) -> int:
    """Parameters of the exported standalone backbone."""
    _, state = model.teacher['backbone'].export_subnet(spec)
    return count_params(state)


def evaluate_subnets(model, specs: Sequence[SubnetSpec],
                     train_loader: DataLoader, val_loader: DataLoader,
                     ks: Sequence[int] = KNN_KS,
                     temperature: float = KNN_TEMPERATURE,
                     baseline: Optional[object] = None,
                     progress=None,
                     cache: Optional[dict] = None,
                     dtype: Optional[torch.dtype] = None) -> List[dict]:
    """k-NN top-1 of every sub-network (and of ``baseline``, e.g. the same
    model with random initial weights, in ``random_k{k}`` columns);
    ``progress`` (e.g. ``print``) gets a line per sub-network with an
    ETA; ``cache`` keeps the model's features for a linear probe
    (:func:`subnet_features`); ``dtype`` is the autocast precision of the
    forward passes (None: fp32). Runs where the model is."""
    rows, start = [], time.time()
    for i, spec in enumerate(specs):
        row = dict(subnet=str(spec), params_m=subnet_params(model, spec) / 1e6)
        for prefix, m in (('k', model), ('random_k', baseline)):
            if m is None:
                continue
            keep = cache if m is model else None
            tr = extract_features(m, spec, train_loader, keep, dtype)
            va = extract_features(m, spec, val_loader, keep, dtype)
            acc = weighted_knn(*tr, *va, ks=ks, temperature=temperature)
            row.update({f'{prefix}{k}': v for k, v in acc.items()})
        rows.append(row)
        if progress:
            progress(f'[k-NN {i + 1}/{len(specs)}] {spec}: '
                     + ', '.join(f'k={k} {row[f"k{k}"]:.2f}' for k in ks)
                     + ' ' + elapsed_and_eta(start, i + 1, len(specs)))
    return rows

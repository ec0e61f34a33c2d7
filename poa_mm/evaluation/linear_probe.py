"""Linear probes of many sub-networks of a POA model at once.

Frozen teacher features of each sub-network (the normed CLS token, and
optionally the CLS token concatenated with the average-pooled patch tokens,
DINOv2's ``avgpool`` variant); one linear classifier per (learning rate,
feature variant), all trained together on the same mini-batches; the best
is chosen on a held-out part of the training folder, and its accuracy on
the val folder is reported.
"""
import math
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader

from poa_mm.elastic import SubnetSpec

from .knn import elapsed_and_eta, subnet_features

VARIANTS = ('cls', 'cls+avgpool')
# The learning rates tried (chosen on the held-out part of the bank).
PROBE_LRS = (1e-3, 1e-2, 1e-1, 1.)


def probe_features(model, spec: SubnetSpec, loader,
                   cache: Optional[dict] = None,
                   dtype: Optional[torch.dtype] = None
                   ) -> Tuple[Dict[str, Tensor], Tensor]:
    """``{variant: (N, C) features}`` and labels of sub-network ``spec``
    (on the model's device)."""
    cls, pooled, labels = subnet_features(model, spec, loader, cache, dtype)
    return dict(zip(VARIANTS, (cls, torch.cat([cls, pooled], 1)))), labels


def holdout_split(labels: Tensor, fraction: float,
                  seed: int = 0) -> Tuple[Tensor, Tensor]:
    """Indices (fit, held out) on the labels' device: ``fraction`` of
    every class held out. Every class must keep at least one image on
    each side (else the probe would report chance)."""
    if not 0 < fraction < 1:
        raise ValueError(f'holdout fraction must be in (0, 1), got '
                         f'{fraction}')
    g = torch.Generator().manual_seed(seed)
    cpu_labels = labels.cpu()
    fit, held = [], []
    for c in cpu_labels.unique():
        idx = (cpu_labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n = max(1, int(round(len(idx) * fraction)))
        if n >= len(idx):
            raise ValueError(
                f'class {int(c)} has {len(idx)} training image(s): holding '
                f'out {fraction:g} of them leaves none to fit; a linear '
                'probe needs at least 2 images per class and a smaller '
                '--holdout')
        held.append(idx[:n])
        fit.append(idx[n:])
    return (torch.cat(fit).to(labels.device),
            torch.cat(held).to(labels.device))


def train_probes(feats: Dict[str, Tensor], labels: Tensor, num_classes: int,
                 lrs: Sequence[float], epochs: int = 100,
                 batch_size: int = 256,
                 seed: int = 0) -> Dict[tuple, nn.Module]:
    """One linear layer per (lr, variant), SGD momentum 0.9, cosine lr,
    all on the same mini-batches, on the features' device. Features are
    standardised with the training statistics (kept in the returned
    modules). The mini-batch order is drawn on the CPU, so it is the same
    on every device."""
    if labels.shape[0] < 2:
        raise ValueError(f'a linear probe needs at least 2 training images, '
                         f'got {labels.shape[0]}')
    g = torch.Generator().manual_seed(seed)
    probes, groups, standardised = {}, [], {}
    for variant, x in feats.items():
        mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
        standardised[variant] = (x - mean) / std
        for lr in lrs:
            head = nn.Linear(x.shape[1], num_classes, device=x.device)
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
            head.register_buffer('mean', mean)
            head.register_buffer('std', std)
            probes[(lr, variant)] = head
            groups.append(dict(params=list(head.parameters()), lr=lr))
    # One optimizer (a group per probe) and one backward per mini-batch:
    # the probes share no parameters, so each gets its own gradient.
    optim = torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)
    n = labels.shape[0]
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        optim, epochs * math.ceil(n / batch_size))
    for _ in range(epochs):
        order = torch.randperm(n, generator=g).to(labels.device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = sum(F.cross_entropy(head(standardised[variant][idx]),
                                       labels[idx])
                       for (_, variant), head in probes.items())
            loss.backward()
            optim.step()
            optim.zero_grad()
            sched.step()
    return probes


@torch.no_grad()
def probe_accuracy(head: nn.Module, x: Tensor, labels: Tensor) -> float:
    pred = head((x - head.mean) / head.std).argmax(1)
    return 100. * float((pred == labels).float().mean())


def linear_probe(model, specs: Sequence[SubnetSpec], train_loader: DataLoader,
                 val_loader: DataLoader,
                 lrs: Sequence[float] = PROBE_LRS,
                 epochs: int = 100, holdout: float = 0.2,
                 num_classes: Optional[int] = None,
                 progress=None, cache: Optional[dict] = None,
                 dtype: Optional[torch.dtype] = None) -> List[dict]:
    """Linear-probe top-1 (%) of every sub-network: one row per spec with
    the chosen ``lr`` and ``variant``, the held-out accuracy and the val
    accuracy (``linear``). ``cache``: features already computed by a k-NN
    pass over the same loaders (:func:`.knn.subnet_features`);
    ``dtype``: the autocast precision of the forward passes. Runs where the
    model is.
    """
    rows, start = [], time.time()
    for i, spec in enumerate(specs):
        train_feats, train_labels = probe_features(model, spec, train_loader,
                                                   cache, dtype)
        val_feats, val_labels = probe_features(model, spec, val_loader, cache,
                                               dtype)
        classes = num_classes or int(train_labels.max()) + 1
        fit, held = holdout_split(train_labels, holdout)
        probes = train_probes({v: f[fit] for v, f in train_feats.items()},
                              train_labels[fit], classes, lrs, epochs)
        scores = {key: probe_accuracy(head, train_feats[key[1]][held],
                                      train_labels[held])
                  for key, head in probes.items()}
        (lr, variant), best = max(scores.items(), key=lambda kv: kv[1])
        rows.append(dict(
            subnet=str(spec), lr=lr, variant=variant, holdout=best,
            linear=probe_accuracy(probes[(lr, variant)],
                                  val_feats[variant], val_labels)))
        if progress:
            progress(f'[linear probe {i + 1}/{len(specs)}] {spec}: '
                     f'{rows[-1]["linear"]:.2f} % (lr {lr:g}, {variant}) '
                     + elapsed_and_eta(start, i + 1, len(specs)))
    return rows

import os
import shutil

import pytest
import torch

from poa_mm.evaluation.knn import (build_folder_loader, folder_classes,
                                   weighted_knn)

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def test_weighted_knn_on_hand_made_features():
    train = torch.nn.functional.normalize(torch.tensor(
        [[1., 0.], [0.9, 0.1], [0., 1.], [0.1, 0.9]]), dim=-1)
    labels = torch.tensor([0, 0, 1, 1])
    test = torch.nn.functional.normalize(torch.tensor([[1., 0.05],
                                                       [0.05, 1.]]), dim=-1)
    acc = weighted_knn(train, labels, test, torch.tensor([0, 1]), ks=(1, 3))
    assert acc == {1: 100., 3: 100.}
    acc = weighted_knn(train, labels, test, torch.tensor([1, 1]), ks=(1, ))
    assert acc == {1: 50.}


def test_val_labels_are_mapped_by_class_name(fashion_mnist, tmp_path):
    train = os.path.join(fashion_mnist, 'train')
    names = sorted(os.listdir(train))
    val = tmp_path / 'val'
    for name in names[-3:]:  # the last three classes only
        shutil.copytree(os.path.join(fashion_mnist, 'test', name),
                        val / name)
    train_loader = build_folder_loader(train, PIPELINE)
    classes = folder_classes(train_loader)
    assert classes == names
    val_loader = build_folder_loader(str(val), PIPELINE, classes=classes)
    labels = {int(info['gt_label']) for info in val_loader.dataset.data_list}
    assert labels == {len(names) - 3, len(names) - 2, len(names) - 1}
    shutil.copytree(val / names[-1], val / 'not_a_training_class')
    with pytest.raises(ValueError, match='not in the training folder'):
        build_folder_loader(str(val), PIPELINE, classes=classes)


def test_probes_learn_separable_features_and_holdout_is_per_class():
    from poa_mm.evaluation.linear_probe import (holdout_split, probe_accuracy,
                                          train_probes)
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat_interleave(40)
    x = torch.randn(120, 8, generator=g) * 0.1
    x[torch.arange(120), labels] += 3.
    fit, held = holdout_split(labels, 0.25)
    assert len(set(fit.tolist()) & set(held.tolist())) == 0
    assert torch.bincount(labels[held]).tolist() == [10, 10, 10]
    probes = train_probes({'cls': x[fit]}, labels[fit], 3, [0.1, 1.],
                          epochs=20, batch_size=32)
    assert set(probes) == {(0.1, 'cls'), (1., 'cls')}
    for head in probes.values():
        assert probe_accuracy(head, x[held], labels[held]) == 100.
    with pytest.raises(ValueError, match='holdout'):
        holdout_split(labels, 1.)


def test_cached_loader_decodes_once_and_streams_past_its_budget(
        fashion_mnist):
    from poa_mm.evaluation.knn import CachedLoader
    train = os.path.join(fashion_mnist, 'train')
    cached = CachedLoader(build_folder_loader(train, PIPELINE, 16))
    first = list(cached)
    assert cached.batches is not None and not cached.streaming
    again = list(cached)
    assert all(a is b for a, b in zip(first, again))  # replayed, not read
    assert len(again) == len(first) == len(cached)
    streamed = CachedLoader(build_folder_loader(train, PIPELINE, 16),
                            max_bytes=1)
    batches = list(streamed)
    assert streamed.streaming and streamed.batches is None
    assert len(batches) == len(first)
    assert all(torch.equal(a['inputs'], b['inputs'])
               for a, b in zip(first, list(streamed)))


def test_k_larger_than_the_bank_is_refused_not_capped():
    bank = torch.nn.functional.normalize(torch.randn(6, 4), dim=-1)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    assert set(weighted_knn(bank, labels, bank, labels, ks=(6, ))) == {6}
    with pytest.raises(ValueError, match=r'k=\[20\] is larger than the '
                       r'memory bank \(6 images\)'):
        weighted_knn(bank, labels, bank, labels, ks=(5, 20))


def test_an_empty_class_folder_is_refused(fashion_mnist, tmp_path):
    train = tmp_path / 'train'
    shutil.copytree(os.path.join(fashion_mnist, 'train'), train)
    (train / 'zz_empty').mkdir()
    with pytest.raises(ValueError, match=r"\['zz_empty'\] hold no images"):
        build_folder_loader(str(train), PIPELINE)


def test_a_holdout_that_leaves_a_class_nothing_to_fit_is_refused():
    from poa_mm.evaluation.linear_probe import holdout_split, train_probes
    labels = torch.arange(10).repeat_interleave(3)
    fit, held = holdout_split(labels, 0.5)
    assert (len(fit), len(held)) == (10, 20)  # round(1.5) of 3 held out
    assert set(labels[fit].tolist()) == set(range(10))
    with pytest.raises(ValueError, match='leaves none to fit'):
        holdout_split(labels, 0.99)
    with pytest.raises(ValueError, match='leaves none to fit'):
        holdout_split(torch.arange(10), 0.2)  # one image per class
    with pytest.raises(ValueError, match='at least 2 training images'):
        train_probes({'cls': torch.randn(1, 4)}, torch.tensor([0]), 2, [1.])


def test_device_resolution_refuses_what_is_not_there():
    from poa_mm.evaluation.device import resolve_device, resolve_dtype
    assert resolve_device('cpu') == torch.device('cpu')
    auto = resolve_device(None)
    assert auto.type == ('cuda' if torch.cuda.is_available() else 'cpu')
    with pytest.raises(ValueError, match='unknown device'):
        resolve_device('gpu0')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='no CUDA device'):
            resolve_device('cuda')
    # bf16 autocast is dropped on the CPU (slow there), kept on CUDA
    assert resolve_dtype('bfloat16', torch.device('cpu')) is None
    assert resolve_dtype('float32', torch.device('cpu')) is None

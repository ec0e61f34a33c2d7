import os
import shutil

import pytest
import torch

from poa_mm.apis.knn import build_folder_loader, folder_classes, weighted_knn

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

"""Shared fixtures: real Fashion-MNIST images, prepared once per session."""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
FASHION_MNIST_SRC = os.environ.get('FASHION_MNIST_SRC',
                                   '/usr/share/datasets/fashion-mnist')


@pytest.fixture(scope='session')
def repo_root() -> str:
    return ROOT


@pytest.fixture(scope='session')
def fashion_mnist(tmp_path_factory) -> str:
    """A small labelled-folder Fashion-MNIST (20 train / 10 test per class).

    Fails (never skips) when the Debian package is missing: CI installs it.
    """
    out = tmp_path_factory.mktemp('data') / 'fashion_mnist'
    subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'prepare_fashion_mnist.py'), '--src',
        FASHION_MNIST_SRC, '--out',
        str(out), '--train-per-class', '20', '--test-per-class', '10'
    ], check=True)
    return str(out)


@pytest.fixture(scope='session')
def poa_checkpoints(tmp_path_factory, fashion_mnist) -> dict:
    """A 2-iteration POA checkpoint of each family's tiny supernet, made
    once per session by tools/train.py."""
    from poa_test_helpers.tools import FAMILIES, poa_training
    return {family: poa_training(
        family, str(tmp_path_factory.mktemp(f'poa_{family}')), fashion_mnist)
        for family in FAMILIES}


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` are skipped, with the reason, where no CUDA
    device is visible (CI); ``make gpu-check`` runs them on a GPU."""
    import torch
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='no CUDA device (run make gpu-check on a '
                            'GPU machine)')
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def exact_cuda():
    """fp32 on CUDA without TF32 (cuDNN convolutions use it by default), so
    that CUDA results can be held to the CPU's tolerances."""
    import torch
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield torch.device('cuda')
    (torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = saved

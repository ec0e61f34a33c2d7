"""Turn Fashion-MNIST's IDX files (Debian package ``dataset-fashion-mnist``)
into an ImageNet-style labelled folder layout::

    OUT/train/<class>/<index>.png   (60k images, or --train-per-class each)
    OUT/test/<class>/<index>.png    (10k images, or --test-per-class each)

The output is written to a temporary folder and moved into place, so an
interrupted run leaves nothing half-written; an up-to-date OUT is kept.
"""
import argparse
import gzip
import json
import os
import os.path as osp
import shutil
import sys
import tempfile

import numpy as np
from PIL import Image

from poa_mm.cli.errors import one_line_errors

DEFAULT_SRC = os.environ.get('FASHION_MNIST_SRC',
                             '/usr/share/datasets/fashion-mnist')
CLASSES = ('T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
           'Shirt', 'Sneaker', 'Bag', 'Ankle_boot')
SPLITS = {'train': 'train', 'test': 't10k'}


def read_idx(path: str) -> np.ndarray:
    """Read a (gzipped) IDX file into an array."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    zero, dtype_code, ndim = data[0:2], data[2], data[3]
    if zero != b'\x00\x00' or dtype_code != 0x08:
        raise ValueError(f'{path} is not an unsigned-byte IDX file')
    shape = tuple(
        int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(src: str, stem: str) -> str:
    for name in (f'{stem}.gz', stem):
        if osp.exists(osp.join(src, name)):
            return osp.join(src, name)
    raise FileNotFoundError(
        f'{stem}(.gz) not found in {src}: install the Debian package '
        '"dataset-fashion-mnist" (apt-get install dataset-fashion-mnist) or '
        'pass --src')


def prepare(src: str, out: str, per_class: dict) -> dict:
    meta = dict(source=osp.abspath(src), per_class=per_class)
    meta_path = osp.join(out, 'meta.json')
    if osp.exists(meta_path):
        with open(meta_path) as f:  # the same images from any copy
            if json.load(f).get('per_class') == per_class:
                return meta
        raise FileExistsError(
            f'{out} holds a different Fashion-MNIST preparation; remove it '
            'or choose another --out')
    parent = osp.dirname(osp.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.fmnist-', dir=parent)
    try:
        for split, stem in SPLITS.items():
            images = read_idx(find_idx(src, f'{stem}-images-idx3-ubyte'))
            labels = read_idx(find_idx(src, f'{stem}-labels-idx1-ubyte'))
            limit = per_class[split]
            for label, name in enumerate(CLASSES):
                folder = osp.join(tmp, split, name)
                os.makedirs(folder)
                idx = np.flatnonzero(labels == label)
                if limit is not None:
                    idx = idx[:limit]
                for i in idx:
                    Image.fromarray(images[i]).save(
                        osp.join(folder, f'{i:05d}.png'))
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


@one_line_errors
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--src', default=DEFAULT_SRC,
                        help='folder with the IDX files')
    parser.add_argument('--out', default='data/fashion_mnist')
    parser.add_argument('--train-per-class', type=int, default=None,
                        help='keep the first N training images per class')
    parser.add_argument('--test-per-class', type=int, default=None,
                        help='keep the first N test images per class')
    args = parser.parse_args(argv)
    per_class = dict(train=args.train_per_class, test=args.test_per_class)
    prepare(args.src, args.out, per_class)
    print(f'Fashion-MNIST ready in {args.out}')


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env bash
# The main job, on CPU: pre-train a tiny ElasticViT supernet with POA on
# Fashion-MNIST once, then k-NN-evaluate a handful of its sub-networks, from
# the smallest to the full network, against the same sub-networks with
# random initial weights and the raw pixels, and linear-probe them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CONFIG=configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py
WORK=work_dirs/demo
SRC=${FMNIST_SRC:-/usr/share/datasets/fashion-mnist}
# Numerics pinned (2 threads, AVX2 code paths) so that the host's cores and
# AVX-512 do not change the table; another CPU vendor still can (README).
. scripts/reproducible_cpu_env.sh

# k-NN memory bank: 500 training images per class; queries: all 10k test.
$PY tools/prepare_fashion_mnist.py --src "$SRC" --out data/fashion_mnist_knn \
    --train-per-class 500

# In-training family k-NN (FamilyKNNHook): 50 training / 30 test images per class.
$PY tools/prepare_fashion_mnist.py --src "$SRC" --out data/fashion_mnist_family \
    --train-per-class 50 --test-per-class 30

if [ ! -f "$WORK/iter_500.pth" ]; then
  echo "[demo] pre-training the supernet (8-15 minutes on 2 cores, by machine)"
  $PY tools/train.py "$CONFIG" --work-dir "$WORK"
else
  echo "[demo] $WORK/iter_500.pth exists: skipping pre-training"
fi

echo "[demo] k-NN top-1 (%) on the 10k Fashion-MNIST test images, then the linear"
echo "[demo] probe on the same features (lr and features chosen on 20 % of the bank)"
$PY tools/knn_eval.py "$CONFIG" "$WORK/iter_500.pth" \
    --subnets min 96x4 128x5 160x5 max \
    --train-dir data/fashion_mnist_knn/train --val-dir data/fashion_mnist_knn/test \
    --compare-random-init --raw-pixels --linear-probe --out-dir "$WORK/knn"

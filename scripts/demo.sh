#!/usr/bin/env bash
# The main job: pre-train a tiny ElasticViT supernet with POA on
# Fashion-MNIST once, then k-NN-evaluate a handful of its sub-networks, from
# the smallest to the full network, against the same sub-networks with
# random initial weights and the raw pixels, and linear-probe them.
# On a GPU (torch sees CUDA; DEMO_DEVICE=cpu forces the CPU demo): the same
# recipe on the whole training set, 3 epochs at batch 256 in bf16, evaluated
# on the GPU. On the CPU: 500 iterations at batch 32, numerics pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SRC=${FMNIST_SRC:-/usr/share/datasets/fashion-mnist}
DEVICE=${DEMO_DEVICE:-$($PY -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}
# Rehearsals on a CPU: DEMO_EVAL_DEVICE=cpu, DEMO_TRAIN_OPTIONS="key=value ..."
# (tools/train.py --cfg-options).
EVAL_DEVICE=${DEMO_EVAL_DEVICE:-$DEVICE}

if [ "$DEVICE" = cuda ]; then
  CONFIG=configs/poa/poa_vit-tiny_1xb256-3e_fashion-mnist.py
  WORK=${DEMO_WORK:-work_dirs/demo_gpu}
  TRAIN_TIME="3-4 minutes on one H100-class GPU"
else
  CONFIG=configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py
  WORK=${DEMO_WORK:-work_dirs/demo}
  TRAIN_TIME="8-15 minutes on 2 cores, by machine"
  # Numerics pinned (2 threads, AVX2 code paths) so that the host's cores
  # and AVX-512 do not change the table; another CPU vendor still can.
  . scripts/reproducible_cpu_env.sh
fi
EVAL=(--device "$EVAL_DEVICE")
[ "$EVAL_DEVICE" = cuda ] && EVAL+=(--amp --num-workers 4)

# k-NN memory bank: 500 training images per class; queries: all 10k test.
$PY tools/prepare_fashion_mnist.py --src "$SRC" --out data/fashion_mnist_knn \
    --train-per-class 500

# In-training family k-NN (FamilyKNNHook): 50 training / 30 test images per class.
$PY tools/prepare_fashion_mnist.py --src "$SRC" --out data/fashion_mnist_family \
    --train-per-class 50 --test-per-class 30

start=$SECONDS
if [ ! -f "$WORK/finished" ]; then
  echo "[demo] pre-training the supernet on $DEVICE ($TRAIN_TIME)"
  # An interrupted demo continues where it stopped.
  resume=()
  [ -f "$WORK/last_checkpoint" ] && resume=(--resume)
  options=()
  # shellcheck disable=SC2206
  [ -n "${DEMO_TRAIN_OPTIONS:-}" ] && options=(--cfg-options $DEMO_TRAIN_OPTIONS)
  $PY tools/train.py "$CONFIG" --work-dir "$WORK" "${resume[@]}" "${options[@]}"
  touch "$WORK/finished"
else
  echo "[demo] $WORK holds a finished pre-training: skipping it"
fi
train_s=$((SECONDS - start))
CKPT=$(cat "$WORK/last_checkpoint")

echo "[demo] k-NN top-1 (%) on the 10k Fashion-MNIST test images, then the linear"
echo "[demo] probe on the same features (lr and features chosen on 20 % of the bank)"
$PY tools/knn_eval.py "$CONFIG" "$CKPT" "${EVAL[@]}" \
    --subnets min 96x4 128x5 160x5 max \
    --train-dir data/fashion_mnist_knn/train --val-dir data/fashion_mnist_knn/test \
    --compare-random-init --raw-pixels --linear-probe --out-dir "$WORK/knn"
echo "[demo] $DEVICE recipe: pre-training ${train_s} s, evaluation on $EVAL_DEVICE $((SECONDS - start - train_s)) s"

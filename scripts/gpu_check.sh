#!/usr/bin/env bash
# The prepared GPU check: on a machine with a CUDA GPU, Python and torch but
# no OpenMMLab and no network, from this checkout plus one carried folder
# (scripts/prepare_gpu_carry.sh makes it: pure-Python wheels, the Debian
# Fashion-MNIST package, the mmcv sdist; about 35 MiB). In order:
#   1. benchmarks/gpu_step.py on the ViT-B and ViT-L supernets (alone);
#   2. the `cuda` test tier (pytest -m cuda);
#   3. tiny-config pre-training with --amp and FamilyKNNHook on (300 iterations
#      of 32 images), then 60 iterations at batch 256;
#   4. tools/knn_eval.py on the GPU: five sub-networks, random twins, raw
#      pixels, linear probe;
# while mmcv's CUDA ops build in the background during 2-4 (MMCV_BUILD_S
# seconds at most, and the whole check CHECK_S; how far it got is reported).
# Writes at most 8 files to RESULTS: gpu_check.log, summary.json,
# gpu_step.json, knn.json, linear.json, family_knn.json, mmcv_build.log.
#
#   bash scripts/gpu_check.sh [CARRY=.gpu_carry] [RESULTS=${OUT:-work_dirs/gpu_check}]
#   (make gpu-check runs it with the defaults)
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY=${1:-.gpu_carry}
RESULTS=${2:-${OUT:-work_dirs/gpu_check}}
PY=${PYTHON:-python3}
CONFIG=configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py
WORK=${GPU_CHECK_WORK:-work_dirs/gpu_check_work}
TRAIN_ITERS=${TRAIN_ITERS:-300}
MMCV_BUILD_S=${MMCV_BUILD_S:-420}
CHECK_S=${CHECK_S:-540}
CHECK_START=$(date +%s)
GPU_STEP_ARGS=${GPU_STEP_ARGS:---steps 12 --warmup 3}
# Rehearsal on a CPU (scripts/rehearse_gpu_check.sh): DEVICE=cpu AMP= TRAIN_ITERS=4
# TRAIN_OPTS=custom_hooks.2.interval=2 B256_ITERS=2 GPU_STEP_ARGS=--smoke.
DEVICE=${DEVICE:-cuda}
AMP=${AMP---amp}
B256_ITERS=${B256_ITERS:-60}
mkdir -p "$RESULTS" "$WORK"
RESULTS=$(cd "$RESULTS" && pwd)
STAGES=$WORK/stages.tsv
: > "$STAGES"
exec > >(tee -a "$RESULTS/gpu_check.log") 2>&1

stage() {  # stage NAME COMMAND...: run, time and record one stage
  local name=$1 start rc
  shift
  echo "=== [$name] $*"
  start=$(date +%s)
  "$@"
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - start ))" >> "$STAGES"
  echo "=== [$name] rc=$rc"
}

. scripts/gpu_env.sh "$CARRY" || exit 1

# Data: three folders in parallel.
stage data bash -c "$(declare -f prep); export PY=$PY FASHION_MNIST_SRC=$FASHION_MNIST_SRC;
  prep --out data/fashion_mnist & prep --out data/fashion_mnist_knn --train-per-class 500 &
  prep --out data/fashion_mnist_family --train-per-class 50 --test-per-class 30 & wait"

# The GPU step benchmark first, alone on the machine.
# shellcheck disable=SC2086
stage gpu_step $PY benchmarks/gpu_step.py --out "$RESULTS/gpu_step.json" $GPU_STEP_ARGS

# mmcv with CUDA ops, in the background, niced, half the cores.
build_mmcv() {
  local sdist src
  sdist=$(ls "$CARRY"/mmcv-*.tar.gz 2>/dev/null | head -n1)
  [ -n "$sdist" ] && command -v nvcc >/dev/null || { echo "no mmcv sdist or nvcc"; return 2; }
  tar -xzf "$sdist" -C "$SITE"
  src=$(ls -d "$SITE"/mmcv-*/ | head -n1)
  echo "$src" > "$SITE/mmcv_src"
  # torch >= 2.14 headers need C++20; mmcv 2.1.0 asks for C++14/17 (as scripts/setup_env.sh).
  if $PY -c 'import sys, torch; sys.exit(tuple(map(int, torch.__version__.split(".")[:2])) < (2, 14))'; then
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  fi
  cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} \
    MAX_JOBS=$(( $(nproc) / 2 )) nice -n 19 $PY setup.py build_ext -q
}
MMCV_START=$(date +%s)
build_mmcv > "$RESULTS/mmcv_build.log" 2>&1 &
MMCV_PID=$!

stage cuda_tests $PY -m pytest -q -m cuda -p no:cacheprovider tests/test_cuda

# shellcheck disable=SC2086
stage train $PY tools/train.py "$CONFIG" $AMP --work-dir "$WORK/train" \
  --cfg-options train_cfg.max_iters="$TRAIN_ITERS" \
  default_hooks.checkpoint.interval="$TRAIN_ITERS" ${TRAIN_OPTS:-}
cp "$(ls -d "$WORK"/train/*/vis_data | tail -n1)/scalars.json" "$RESULTS/family_knn.json"

# shellcheck disable=SC2086
stage train_b256 $PY tools/train.py "$CONFIG" $AMP --work-dir "$WORK/train_b256" \
  --cfg-options train_cfg.max_iters="$B256_ITERS" train_dataloader.batch_size=256 \
  train_dataloader.num_workers=8 default_hooks.checkpoint.interval=1000 \
  default_hooks.logger.interval=20

stage knn_eval $PY tools/knn_eval.py "$CONFIG" "$WORK/train/iter_$TRAIN_ITERS.pth" \
  --subnets min 96x4 128x5 160x5 max --device "$DEVICE" \
  --train-dir data/fashion_mnist_knn/train --val-dir data/fashion_mnist_knn/test \
  --compare-random-init --raw-pixels --linear-probe --out-dir "$WORK/knn"
cp "$WORK"/knn/knn.json "$WORK"/knn/linear.json "$RESULTS"/

# The mmcv build stops here if it has not finished: what it got to is logged.
# It gets MMCV_BUILD_S seconds, and never past CHECK_S seconds of the whole check.
left=$(( MMCV_BUILD_S - ($(date +%s) - MMCV_START) ))
until_end=$(( CHECK_S - ($(date +%s) - CHECK_START) ))
[ "$until_end" -lt "$left" ] && left=$until_end
while [ "$left" -gt 0 ] && kill -0 "$MMCV_PID" 2>/dev/null; do sleep 5; left=$((left - 5)); done
if kill -0 "$MMCV_PID" 2>/dev/null; then
  pkill -P "$MMCV_PID"; kill "$MMCV_PID"; MMCV_RC=timeout
else
  wait "$MMCV_PID"; MMCV_RC=$?
fi
src=$(cat "$SITE/mmcv_src" 2>/dev/null)
objects=$( [ -n "$src" ] && find "$src/build" -name '*.o' 2>/dev/null | wc -l || echo 0)
sources=$( [ -n "$src" ] && find "$src/mmcv/ops/csrc/pytorch" -maxdepth 2 \
  \( -path '*/pytorch/*.cpp' -o -path '*/pytorch/cpu/*.cpp' -o -path '*/pytorch/cuda/*.cu' \) | wc -l || echo 0)
printf 'mmcv_build\t%s\t%s\n' "$MMCV_RC" "$(( $(date +%s) - MMCV_START ))" >> "$STAGES"
echo "=== [mmcv_build] rc=$MMCV_RC, $objects objects of $sources sources"
tail -c 20000 "$RESULTS/mmcv_build.log" > "$WORK/mmcv_tail" && mv "$WORK/mmcv_tail" "$RESULTS/mmcv_build.log"


$PY scripts/gpu_check_summary.py --stages "$STAGES" --results "$RESULTS" \
  --work "$WORK" --mmcv-objects "$objects" --mmcv-sources "$sources"

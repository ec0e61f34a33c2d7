#!/usr/bin/env bash
# Collect what benchmarks/gpu_step.py needs on a GPU machine that has torch
# (and numpy, opencv, matplotlib, rich, pyyaml, einops) but no OpenMMLab
# packages and no network: pure-Python wheels of the pinned MMEngine and
# MMPretrain, the ops-free mmcv-lite, and their small pure-Python needs.
# About 3 MiB; the folder is git-ignored and travels as a carried path.
#
#   bash benchmarks/prepare_gpu_carry.sh [OUT_DIR=.gpu_carry] [PYTHON_VERSION=3.12]
#   then on the GPU machine: bash benchmarks/run_on_gpu.sh OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.gpu_carry}
PYVER=${2:-3.12}
PIP=${PIP:-.venv/bin/pip}
[ -x "$PIP" ] || PIP="python3 -m pip"
pin() { sed -n "s/^$1==\(.*\)/\1/p" requirements.txt; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$PIP download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
  --implementation cp --platform manylinux2014_x86_64 -d "$tmp" \
  "mmengine==$(pin mmengine)" "mmpretrain==$(pin mmpretrain)" \
  "mmcv-lite==$(pin mmcv)" addict==2.4.0 yapf==0.43.0 termcolor==3.3.0 \
  platformdirs==4.14.9 model-index==0.1.11 modelindex==0.0.2 ordered-set==4.1.0 mat4py==0.6.0 \
  importlib-metadata==8.7.0
rm -rf "$OUT"
mv "$tmp" "$OUT"
trap - EXIT
chmod 755 "$OUT"
echo "[carry] $(ls "$OUT" | wc -l) wheels, $(du -sh "$OUT" | cut -f1) in $OUT"

#!/usr/bin/env bash
# Collect what scripts/gpu_check.sh needs on a GPU machine that has Python,
# torch, numpy, opencv, matplotlib, rich, pyyaml and pytest but no OpenMMLab
# packages and no network: pure-Python wheels of the pinned MMEngine and
# MMPretrain, the ops-free mmcv-lite and their small needs (3 MiB), the
# Debian Fashion-MNIST package (31 MB) and the mmcv sdist (for the
# background build of its CUDA ops). The folder is git-ignored; copy it
# next to the checkout (a device run carries it).
#
#   bash scripts/prepare_gpu_carry.sh [OUT_DIR=.gpu_carry] [PYTHON_VERSION=3.12]
#   then on the GPU machine: bash scripts/gpu_check.sh OUT_DIR
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
$PIP download -q --no-deps --no-binary :all: --no-build-isolation -d "$tmp" \
  "mmcv==$(pin mmcv)"
(cd "$tmp" && apt-get download -q dataset-fashion-mnist >/dev/null 2>&1) || {
  deb=$(ls /var/cache/apt/archives/dataset-fashion-mnist_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] && cp "$deb" "$tmp"/ || {
    echo "error: cannot download dataset-fashion-mnist (apt-get update first?)" >&2; exit 1; }
}
rm -rf "$OUT"
mv "$tmp" "$OUT"
trap - EXIT
chmod 755 "$OUT"
echo "[carry] $(ls "$OUT" | wc -l) files, $(du -sh "$OUT" | cut -f1) in $OUT"

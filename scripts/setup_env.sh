#!/usr/bin/env bash
# Create .venv/ at the repository root with the pinned OpenMMLab stack. Idempotent:
# a second run with unchanged requirements does nothing; the mmcv wheel built against
# a given torch version is cached under $POA_MM_CACHE (default ~/.cache/poa-mm) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3.11}
VENV=$ROOT/.venv
TORCH=2.14.1
TORCHVISION=0.29.1
MMCV=2.1.0
CACHE=${POA_MM_CACHE:-$HOME/.cache/poa-mm}/wheels/torch-$TORCH-$($PY -c 'import sys;print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
STAMP=$VENV/.poa-mm-setup
want=$(cat requirements.txt requirements-dev.txt setup.py scripts/setup_env.sh | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "[setup] .venv is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
$PIP install -q "setuptools>=77.0.3,<82" wheel
$PIP install -q "torch==$TORCH" "torchvision==$TORCHVISION"

if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV'" 2>/dev/null; then
  mkdir -p "$CACHE"
  wheel=$(ls "$CACHE"/mmcv-$MMCV-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$wheel" ]; then
    echo "[setup] building mmcv $MMCV with ops against torch $TORCH (about 10 minutes on 2 cores)"
    tmp=$(mktemp -d)
    $PIP download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV" -d "$tmp"
    tar -xzf "$tmp"/mmcv-$MMCV.tar.gz -C "$tmp"
    # torch >= 2.14 headers need C++20; mmcv 2.1.0 asks for C++14/17.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$tmp/mmcv-$MMCV/setup.py"
    (cd "$tmp/mmcv-$MMCV" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-2} \
      $PIP wheel -q --no-deps --no-build-isolation --no-cache-dir . -w "$tmp/dist")
    cp "$tmp"/dist/mmcv-$MMCV-*.whl "$CACHE"/
    rm -rf "$tmp"
    wheel=$(ls "$CACHE"/mmcv-$MMCV-*.whl | head -n1)
  fi
  $PIP install -q --no-deps "$wheel"
fi

$PIP install -q -r requirements.txt -r requirements-dev.txt
$PIP install -q --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import mmcv.ops, mmpretrain.models, mmdet.models, mmseg.models, poa_mm"
echo "$want" > "$STAMP"
echo "[setup] done: $VENV"

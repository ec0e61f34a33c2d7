#!/usr/bin/env bash
# Create .venv/ at the repository root with the pinned OpenMMLab stack. Idempotent:
# a second run with unchanged requirements does nothing; the mmcv wheel built against
# a given torch version and CUDA variant (cpu, cu130, ...) is cached under $POA_MM_CACHE (default
# ~/.cache/poa-mm) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3.11}
VENV=$ROOT/.venv
TORCH=2.14.1
TORCHVISION=0.29.1
MMCV=2.1.0
CACHE_ROOT=${POA_MM_CACHE:-$HOME/.cache/poa-mm}/wheels
PYTAG=$($PY -c 'import sys;print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
STAMP=$VENV/.poa-mm-setup
want=$(cat requirements.txt requirements-dev.txt setup.py scripts/setup_env.sh | sha256sum | cut -d' ' -f1)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "[setup] .venv is up to date"
  exit 0
fi

# Each step prints what it did and its seconds.
t0=$SECONDS
done_step() { echo "[setup] $1 ($((SECONDS - t0)) s)"; t0=$SECONDS; }

# A fresh .venv takes about 6.5 GB (torch's CUDA build is most of it): refuse at once, in one
# line, where the disk cannot hold it, instead of pip's ENOSPC traceback minutes later.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  need_kb=$((7 * 1024 * 1024))
  free_kb=$(df -Pk "$ROOT" | awk 'NR==2 {print $4}')
  if [ "$free_kb" -lt "$need_kb" ]; then
    echo "[setup] error: $ROOT has $((free_kb / 1024)) MiB free; a new .venv needs about 7 GiB" \
         "(torch $TORCH with its CUDA libraries, docs/development.md, \"Set-up\")" >&2
    exit 1
  fi
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
$PIP install -q "setuptools>=77.0.3,<82" wheel
done_step "venv and pip"
# PyPI offers torch for x86_64 Linux as its CUDA build only (the CPU build lives on
# download.pytorch.org, which these machines cannot reach): docs/development.md, "Set-up".
$PIP install -q "torch==$TORCH" "torchvision==$TORCHVISION"
done_step "torch $TORCH, torchvision $TORCHVISION"

# mmcv's ops: CUDA kernels when torch is a CUDA build, a matching nvcc is on the PATH and a GPU is visible
# (or TORCH_CUDA_ARCH_LIST names the architectures); CPU kernels otherwise.
TORCH_CUDA=$("$VENV/bin/python" -c 'import torch; print(torch.version.cuda or "")')
FORCE_CUDA=0
VARIANT=cpu
if [ -n "$TORCH_CUDA" ]; then
  GPU_ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | sort -u | paste -sd';' || true)
  NVCC_CUDA=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' || true)
  if [ -n "$GPU_ARCH" ] || [ -n "${TORCH_CUDA_ARCH_LIST:-}" ]; then
    if [ "${NVCC_CUDA%%.*}" = "${TORCH_CUDA%%.*}" ]; then
      FORCE_CUDA=1
      VARIANT=cu${TORCH_CUDA//./}
      export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$GPU_ARCH}
      echo "[setup] building mmcv's CUDA ops (CUDA $TORCH_CUDA, architectures $TORCH_CUDA_ARCH_LIST)"
    else
      echo "[setup] warning: a GPU is visible but no nvcc for CUDA $TORCH_CUDA was found" \
           "(found: ${NVCC_CUDA:-none}); mmcv gets CPU ops only, so MMDetection/MMSegmentation" \
           "(RoIAlign, NMS) fail on the GPU. Install the CUDA $TORCH_CUDA toolkit (nvcc on PATH)," \
           "then: make clean-venv && make setup" >&2
    fi
  fi
fi
CACHE=$CACHE_ROOT/torch-$TORCH-$PYTAG-$VARIANT

MARKER=$VENV/.mmcv-variant  # absent: an earlier CPU-only set-up
installed=$(cat "$MARKER" 2>/dev/null || echo cpu)
if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV'" 2>/dev/null \
    || [ "$installed" != "$VARIANT" ]; then
  mkdir -p "$CACHE"
  wheel=$(ls "$CACHE"/mmcv-$MMCV-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$wheel" ] && [ "$VARIANT" = cpu ]; then  # cache layout of poa-mm 0.1
    wheel=$(ls "$CACHE_ROOT/torch-$TORCH-$PYTAG"/mmcv-$MMCV-*.whl 2>/dev/null | head -n1 || true)
  fi
  if [ -z "$wheel" ]; then
    echo "[setup] building mmcv $MMCV with ops against torch $TORCH (about 10 minutes on 2 cores)"
    tmp=$(mktemp -d)
    $PIP download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV" -d "$tmp"
    tar -xzf "$tmp"/mmcv-$MMCV.tar.gz -C "$tmp"
    # torch >= 2.14 headers need C++20; mmcv 2.1.0 asks for C++14/17.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$tmp/mmcv-$MMCV/setup.py"
    (cd "$tmp/mmcv-$MMCV" && MMCV_WITH_OPS=1 FORCE_CUDA=$FORCE_CUDA MAX_JOBS=${MAX_JOBS:-2} \
      $PIP wheel -q --no-deps --no-build-isolation --no-cache-dir . -w "$tmp/dist")
    cp "$tmp"/dist/mmcv-$MMCV-*.whl "$CACHE"/
    rm -rf "$tmp"
    wheel=$(ls "$CACHE"/mmcv-$MMCV-*.whl | head -n1)
  fi
  $PIP install -q --no-deps --force-reinstall "$wheel"
  echo "$VARIANT" > "$MARKER"
fi
done_step "mmcv $MMCV ($VARIANT ops)"

$PIP install -q -r requirements.txt -r requirements-dev.txt
$PIP install -q --no-deps --no-build-isolation -e .
done_step "requirements and poa_mm"
"$VENV/bin/python" -c "import mmcv.ops, mmpretrain.models, mmdet.models, mmseg.models, poa_mm"
done_step "import check"
echo "$want" > "$STAMP"
echo "[setup] done: $VENV"

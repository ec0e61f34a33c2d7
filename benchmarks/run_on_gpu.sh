#!/usr/bin/env bash
# On the GPU machine: install the carried wheels into a private folder (no
# network, nothing else touched) and run the one-shot GPU benchmark.
#
#   bash benchmarks/run_on_gpu.sh [CARRY_DIR=.gpu_carry] [OUT_DIR=${OUT:-benchmarks/results}]
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=${1:-.gpu_carry}
RESULTS=${2:-${OUT:-benchmarks/results}}
SITE=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
  --target "$SITE" "$CARRY"/*.whl
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 benchmarks/gpu_step.py --out "$RESULTS/gpu_step.json" 2>&1 |
  tee "$RESULTS/gpu_step.log"

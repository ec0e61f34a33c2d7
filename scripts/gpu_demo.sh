#!/usr/bin/env bash
# The prepared GPU run of the demo and of the paper's claim in miniature, on a
# machine with a CUDA GPU, Python and torch but no OpenMMLab and no network
# (the carried folder from scripts/prepare_gpu_carry.sh, as gpu_check.sh):
#   PART=demo:       the Fashion-MNIST folders, then scripts/demo.sh on the GPU
#                    (configs/poa/poa_vit-tiny_1xb256-3e_fashion-mnist.py:
#                    pre-training, k-NN with random twins and raw pixels,
#                    linear probe); about 5-6 minutes on one H100-class GPU;
#   PART=miniature:  benchmarks/family_vs_separate.py --device cuda, reusing
#                    the demo's POA run when it is there (the two
#                    architectures trained alone, then all evaluated);
#   PART=finetune:   benchmarks/elastic_finetune.py --device cuda (every size
#                    in one run vs each alone vs random init), from the
#                    demo's POA run when it is there;
#   PART=all:        all three (over one 10-minute device command: run them
#                    as separate commands).
# Writes to RESULTS: gpu_demo.log, demo_knn.json, demo_linear.json,
# family_vs_separate.json, elastic_finetune.json, summary.json.
#
#   bash scripts/gpu_demo.sh [CARRY=.gpu_carry] [RESULTS=${OUT:-work_dirs/gpu_demo}] [PART=all]
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY=${1:-.gpu_carry}
RESULTS=${2:-${OUT:-work_dirs/gpu_demo}}
PART=${3:-all}
PY=${PYTHON:-python3}
WORK=${GPU_DEMO_WORK:-work_dirs/demo_gpu}
# Rehearsal on a CPU (scripts/rehearse_gpu_check.sh demo): DEVICE=cpu and
# TRAIN_OPTS (--cfg-options of every training, e.g. a few images).
DEVICE=${DEVICE:-cuda}
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
exec > >(tee -a "$RESULTS/gpu_demo.log") 2>&1
. scripts/gpu_env.sh "$CARRY" || exit 1
declare -A SECONDS_OF RC_OF

if [ "$PART" = demo ] || [ "$PART" = all ]; then
  start=$SECONDS
  prep --out data/fashion_mnist
  PY=$PY FMNIST_SRC=$FASHION_MNIST_SRC DEMO_WORK=$WORK DEMO_DEVICE=cuda \
    DEMO_EVAL_DEVICE=$DEVICE DEMO_TRAIN_OPTIONS=${TRAIN_OPTS:-} bash scripts/demo.sh
  RC_OF[demo]=$?
  SECONDS_OF[demo]=$((SECONDS - start))
  cp "$WORK/knn/knn.json" "$RESULTS/demo_knn.json"
  cp "$WORK/knn/linear.json" "$RESULTS/demo_linear.json"
fi

if [ "$PART" = miniature ] || [ "$PART" = all ]; then
  start=$SECONDS
  reuse=()
  [ -f "$WORK/finished" ] && reuse=(--poa-checkpoint "$(cat "$WORK/last_checkpoint")")
  options=()
  # shellcheck disable=SC2206
  [ -n "${TRAIN_OPTS:-}" ] && options=(--cfg-options $TRAIN_OPTS)
  # (it prepares the folders it needs itself)
  $PY benchmarks/family_vs_separate.py --device "$DEVICE" --config \
    configs/poa/poa_vit-tiny_1xb256-3e_fashion-mnist.py "${reuse[@]}" \
    "${options[@]}" --out "$RESULTS/family_vs_separate.json" \
    --work-dir "${FAMILY_VS_SEPARATE_WORK:-work_dirs/family_vs_separate}"
  RC_OF[miniature]=$?
  SECONDS_OF[miniature]=$((SECONDS - start))
fi

if [ "$PART" = finetune ] || [ "$PART" = all ]; then
  start=$SECONDS
  reuse=()
  [ -f "$WORK/finished" ] && reuse=(--poa-checkpoint "$(cat "$WORK/last_checkpoint")")
  # FINETUNE_OPTS: the recipe (default --quick: 11 short runs, about 8
  # minutes on one GPU; leave it empty for the full recipe).
  # shellcheck disable=SC2086
  $PY benchmarks/elastic_finetune.py --device "$DEVICE" "${reuse[@]}" \
    ${FINETUNE_OPTS---quick} --out "$RESULTS/elastic_finetune.json" \
    --work-dir "${ELASTIC_FINETUNE_WORK:-work_dirs/elastic_finetune_gpu}"
  RC_OF[finetune]=$?
  SECONDS_OF[finetune]=$((SECONDS - start))
fi

summary="{"
for part in "${!RC_OF[@]}"; do
  summary+="\"$part\": {\"rc\": ${RC_OF[$part]}, \"seconds\": ${SECONDS_OF[$part]}}, "
done
$PY - "$RESULTS/summary.json" "${summary%, }}" <<'PYEOF'
import json, os, subprocess, sys
import torch
parts = json.loads(sys.argv[2])
commit = os.environ.get('POA_MM_COMMIT') or subprocess.run(
    ['git', 'rev-parse', '--short', 'HEAD'], capture_output=True,
    text=True).stdout.strip()
json.dump(dict(gpu=torch.cuda.get_device_name(0)
               if torch.cuda.is_available() else None,
               torch=torch.__version__, commit=commit or None,
               parts=parts), open(sys.argv[1], 'w'), indent=1)
print(open(sys.argv[1]).read())
PYEOF

#!/usr/bin/env bash
# Rehearse scripts/gpu_check.sh on a CPU machine, as on a bare GPU machine: .venv's Python with
# -S (no site-packages, no .pth files) and a PYTHONPATH holding the venv's packages except the
# OpenMMLab stack, poa-mm and what scripts/prepare_gpu_carry.sh carries, so that the check must
# install those from the carried folder. CPU settings: tiny runs, gpu_step.py --smoke, k-NN on CPU.
# With WHAT=demo it rehearses scripts/gpu_demo.sh instead (the GPU config on 512 images, one epoch,
# evaluated on the CPU; about 10 minutes on 2 cores).
#
#   [WHAT=check|demo] bash scripts/rehearse_gpu_check.sh [CARRY=.gpu_carry] [RESULTS=work_dirs/gpu_<WHAT>_rehearsal]
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=${1:-.gpu_carry}
WHAT=${WHAT:-check}
RESULTS=${2:-work_dirs/gpu_${WHAT}_rehearsal}
SIM=$(mktemp -d)
trap 'rm -rf "$SIM"' EXIT
SP=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$SIM/site"
for entry in "$SP"/*; do
  name=$(basename "$entry")
  case "${name,,}" in
    mmengine*|mmcv*|mmpretrain*|mmdet*|mmseg*|poa_mm*|__editable__*|addict*|yapf*|termcolor*|\
    platformdirs*|model_index*|modelindex*|ordered_set*|mat4py*|importlib_metadata*|*.pth) ;;
    *) ln -s "$entry" "$SIM/site/$name" ;;
  esac
done
printf '#!/bin/sh\nexec %s -S "$@"\n' "$PWD/.venv/bin/python" > "$SIM/python"
chmod +x "$SIM/python"
if PYTHONPATH=$SIM/site "$SIM/python" -c 'import mmengine' 2>/dev/null; then
  echo "rehearsal: mmengine is importable without the carried wheels" >&2; exit 1
fi
if [ "$WHAT" = demo ]; then
  rm -rf "$RESULTS" work_dirs/gpu_demo_rehearsal_work work_dirs/family_vs_separate_rehearsal \
    work_dirs/elastic_finetune_rehearsal
  PYTHONPATH=$SIM/site PYTHON=$SIM/python GPU_DEMO_WORK=work_dirs/gpu_demo_rehearsal_work \
    DEVICE=cpu TRAIN_OPTS="train_dataloader.dataset.indices=512 train_cfg.max_epochs=1 train_dataloader.num_workers=2" \
    FAMILY_VS_SEPARATE_WORK=work_dirs/family_vs_separate_rehearsal \
    ELASTIC_FINETUNE_WORK=work_dirs/elastic_finetune_rehearsal \
    FINETUNE_OPTS="--quick --iters 3 --family-iters 3" \
    bash scripts/gpu_demo.sh "$CARRY" "$RESULTS" "${PART:-all}"
  exit
fi
rm -rf "$RESULTS" work_dirs/gpu_check_rehearsal_work
PYTHONPATH=$SIM/site PYTHON=$SIM/python GPU_CHECK_WORK=work_dirs/gpu_check_rehearsal_work \
  DEVICE=cpu AMP= TRAIN_ITERS=4 TRAIN_OPTS=custom_hooks.2.interval=2 B256_ITERS=2 \
  MMCV_BUILD_S=${MMCV_BUILD_S:-20} GPU_STEP_ARGS=--smoke \
  bash scripts/gpu_check.sh "$CARRY" "$RESULTS"

#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]
# tools/test.py on NUM_PROCS processes (gloo on machines without CUDA): a
# config from tools/to_mmpretrain.py, one size or every size
# (FamilyTestLoop) of an elastic fine-tuning. Multi-node: set
# NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT on every node.
set -euo pipefail
if [ $# -lt 3 ] || ! [[ $3 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]" >&2
  exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROCS=$3
shift 3
exec bash "$(dirname "$0")/dist_launch.sh" test.py "$NPROCS" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"

#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT on every node.
# CPU-only machines run NUM_PROCS gloo processes; GPU machines use nccl.
set -euo pipefail
if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]" >&2
  exit 2
fi
CONFIG=$1
NPROCS=$2
shift 2
exec bash "$(dirname "$0")/dist_launch.sh" train.py "$NPROCS" "$CONFIG" --launcher pytorch "$@"

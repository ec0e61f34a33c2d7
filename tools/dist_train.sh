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
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$MASTER_PORT" \
    --nproc_per_node="$NPROCS" \
    "$HERE/train.py" "$CONFIG" --launcher pytorch "$@"

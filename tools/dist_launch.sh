#!/usr/bin/env bash
# Usage: tools/dist_launch.sh SCRIPT NUM_PROCS [SCRIPT args...]
# tools/SCRIPT on NUM_PROCS processes per node through torch.distributed.run
# (what dist_train.sh and dist_test.sh call; gloo on machines without CUDA,
# nccl on GPUs). Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and
# MASTER_PORT on every node.
set -euo pipefail
SCRIPT=$1
NPROCS=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${MASTER_PORT:-29500}" \
    --nproc_per_node="$NPROCS" \
    "$HERE/$SCRIPT" "$@"

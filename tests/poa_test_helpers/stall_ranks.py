"""For tests: a gloo group started by tools/train.py's CPU initialiser,
where rank 1 stalls and rank 0 waits in an all-reduce."""
import json
import os
import os.path as osp
import time

import torch
import torch.distributed as dist

from .scripts import load_script


def run_rank(rank: int, world: int, port: int, timeout_s: float,
             out_dir: str) -> None:
    train = load_script('tools/train.py')
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world))
    train.init_cpu_distributed('pytorch', timeout_s)
    start = time.monotonic()
    error = None
    if rank == 1:
        time.sleep(4 * timeout_s)  # a stalled rank
    else:
        try:
            dist.all_reduce(torch.ones(1))
        except RuntimeError as e:  # gloo's timeout
            error = str(e).splitlines()[0]
    with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(dict(seconds=time.monotonic() - start, error=error), f)
    # Measured and written: leave without tearing down the timed-out group,
    # whose destructor can abort the process (std::terminate, SIGABRT).
    os._exit(0)

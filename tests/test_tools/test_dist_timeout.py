"""A stalled rank ends a CPU run after the collective timeout
(``env_cfg.dist_cfg.timeout``) instead of gloo's default 30 minutes."""
import json
import os

import pytest
import torch.multiprocessing as mp

from poa_test_helpers.stall_ranks import run_rank


@pytest.mark.slow
def test_stalled_rank_times_out(tmp_path):
    port = 29800 + os.getpid() % 1000
    mp.spawn(run_rank, args=(2, port, 3.0, str(tmp_path)),
             nprocs=2, join=True)
    waiting = json.load(open(tmp_path / 'rank0.json'))
    assert waiting['error'] is not None, 'the all-reduce did not time out'
    assert 2.5 <= waiting['seconds'] < 10, waiting

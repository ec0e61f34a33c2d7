"""Preemption: SIGTERM / SIGUSR1 sent to a real 2-rank gloo run (as Slurm
signals every task and its data-loader workers) make rank 0 write a
resumable checkpoint and every rank exit 0; ``--resume`` continues as the
uninterrupted run; a second notice exits at once and leaves the last
checkpoint intact."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from poa_mm.fileio import load_checkpoint
from test_train import records, write_config

pytestmark = pytest.mark.slow  # subprocess runs of the tools

ITERS = 16
EXTRA = '''
train_dataloader.update(num_workers=1, persistent_workers=True)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='AtomicCheckpointHook', interval={interval},
                    by_epoch=False))
'''


def env_of(repo_root, **extra):
    env = dict(os.environ, OMP_NUM_THREADS='1', **extra)
    env['PYTHONPATH'] = f'{repo_root}:{repo_root}/tests'
    return env


def slurm_ranks(cfg, work, repo_root, port, *args):
    """Two ranks started as ``srun`` starts them (one process per task,
    SLURM_* set), in one process group."""
    procs = []
    for rank in (0, 1):
        env = env_of(repo_root, SLURM_PROCID=str(rank), SLURM_NTASKS='2',
                     SLURM_LOCALID=str(rank), MASTER_ADDR='127.0.0.1',
                     MASTER_PORT=str(port))
        procs.append(subprocess.Popen(
            [sys.executable, 'tools/train.py', cfg, '--work-dir', str(work),
             '--launcher', 'slurm', *args], cwd=repo_root, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            process_group=procs[0].pid if procs else 0))
    return procs


def wait_for_iteration(work, n: int, procs, timeout: float = 240):
    """Until the work dir's log shows iteration ``n``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for folder, _, files in os.walk(work):
            for name in files:
                if name.endswith('.log') and re.search(
                        rf'\[\s*{n}/{ITERS}\]',
                        open(os.path.join(folder, name)).read()):
                    return
        assert all(p.poll() is None for p in procs), 'the run ended early'
        time.sleep(0.2)
    raise AssertionError(f'iteration {n} not reached in {timeout} s')


def finish(procs, timeout: float = 120):
    outs = [p.communicate(timeout=timeout)[0] for p in procs]
    return [p.returncode for p in procs], outs


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, repo_root, fashion_mnist):
    """The per-rank records of the run without a notice."""
    tmp = tmp_path_factory.mktemp('uninterrupted')
    cfg = write_config(tmp, repo_root, fashion_mnist, ITERS, tmp / 'rec',
                       EXTRA.format(interval=1000))
    codes, outs = finish(slurm_ranks(cfg, tmp / 'work', repo_root,
                                     29600 + os.getpid() % 300))
    assert codes == [0, 0], outs[0][-3000:]
    return [records(tmp / 'rec', rank) for rank in (0, 1)]


@pytest.mark.parametrize('notice', [signal.SIGTERM, signal.SIGUSR1])
def test_a_preempted_two_rank_run_resumes_as_if_uninterrupted(
        repo_root, fashion_mnist, tmp_path, notice, uninterrupted):
    port = 29900 + os.getpid() % 300 + 3 * (notice == signal.SIGUSR1)
    extra = EXTRA.format(interval=1000)

    cfg = write_config(tmp_path, repo_root, fashion_mnist, ITERS,
                       tmp_path / 'cut', extra)
    work = tmp_path / 'work'
    procs = slurm_ranks(cfg, work, repo_root, port)
    wait_for_iteration(work, 3, procs)
    os.killpg(procs[0].pid, notice)  # every task and its workers
    codes, outs = finish(procs)
    assert codes == [0, 0], outs[0][-3000:] + outs[1][-3000:]
    assert f'{notice.name} received' in outs[0] + outs[1]
    assert 'Traceback' not in outs[0] + outs[1]
    saved = (work / 'last_checkpoint').read_text().strip()
    done = int(saved.rsplit('iter_', 1)[1].split('.')[0])
    assert 3 <= done < ITERS, saved
    assert f'preempted ({notice.name}) after iteration {done}' in outs[0]
    ckpt = load_checkpoint(saved)
    assert ckpt['meta']['iter'] == done and 'optimizer' in ckpt

    resume_cfg = write_config(tmp_path, repo_root, fashion_mnist, ITERS,
                              tmp_path / 'res', extra)
    codes, outs = finish(slurm_ranks(resume_cfg, work, repo_root, port + 2,
                                     '--resume'))
    assert codes == [0, 0], outs[0][-3000:]
    for rank in (0, 1):
        full = uninterrupted[rank][done:]
        resumed = records(tmp_path / 'res', rank)
        assert [r['iter'] for r in resumed] == list(range(done, ITERS))
        assert [r['subnet'] for r in resumed] == [r['subnet'] for r in full]
        for a, b in zip(full, resumed):
            for key in ('loss_dino', 'loss_same_view', 'loss_ibot',
                        'loss_koleo'):
                assert a[key] == pytest.approx(b[key], rel=1e-5,
                                               abs=1e-6), key


def test_a_second_notice_stops_at_once_and_keeps_the_last_checkpoint(
        repo_root, fashion_mnist, tmp_path):
    extra = EXTRA.format(interval=2) + '''
custom_imports = dict(imports=custom_imports['imports'] + [
    'poa_test_helpers.sleep_hook'])
custom_hooks = custom_hooks + [  # noqa: F821 (the base config's)
    dict(type='PreemptionHook', repeat_s=0.1),
    dict(type='SleepHook', from_iter=3, seconds=5.)]
'''
    cfg = write_config(tmp_path, repo_root, fashion_mnist, ITERS,
                       tmp_path / 'rec', extra)
    work = tmp_path / 'work'
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', str(work)],
        cwd=repo_root, env=env_of(repo_root), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, process_group=0)
    wait_for_iteration(work, 3, [proc])
    time.sleep(1.)  # past the boundary: inside the 5 s iteration
    os.killpg(proc.pid, signal.SIGTERM)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == -signal.SIGTERM, out[-3000:]
    assert 'SIGTERM received' in out and 'preempted' not in out
    saved = (work / 'last_checkpoint').read_text().strip()
    assert saved.endswith('iter_2.pth')  # the last periodic one, complete
    assert load_checkpoint(saved)['meta']['iter'] == 2

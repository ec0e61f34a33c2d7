"""scripts/reproducible_cpu_env.sh: with it, one POA step computes the same
bits on an AVX-512 host as on an AVX2-only host (simulated by capping MKL,
ATen and oneDNN at AVX2); without it, it does not."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from poa_test_helpers.scripts import ROOT as REPO

ROOT = Path(REPO)
CONFIG = ROOT / 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'
PINS = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'MKL_CBWR',
        'ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA',
        'MKL_ENABLE_INSTRUCTIONS', 'POA_MM_THREADS')
AVX2_HOST = dict(MKL_ENABLE_INSTRUCTIONS='AVX2', ATEN_CPU_CAPABILITY='avx2',
                 ONEDNN_MAX_CPU_ISA='AVX2')


def pinned_env() -> dict:
    """The variables the script exports, read back from a bash that
    sourced it."""
    out = subprocess.run(
        ['bash', '-c', f'. {ROOT}/scripts/reproducible_cpu_env.sh; env'],
        env=clean_env(), capture_output=True, text=True, check=True).stdout
    env = dict(line.split('=', 1) for line in out.splitlines() if '=' in line)
    return {k: env[k] for k in PINS if k in env}


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PINS}
    env.update(extra)
    return env


def digest(**env) -> str:
    run = subprocess.run(
        [sys.executable, '-m', 'poa_test_helpers.step_numerics', str(CONFIG)],
        env=clean_env(**env), capture_output=True, text=True,
        cwd=ROOT / 'tests')
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.split()[-1]


def host_has_avx512() -> bool:
    try:
        return 'avx512f' in Path('/proc/cpuinfo').read_text()
    except OSError:
        return False


@pytest.mark.slow
def test_pinned_step_is_the_same_on_avx2_and_avx512_hosts():
    pins = pinned_env()
    assert pins['OMP_NUM_THREADS'] == '2' and pins['MKL_CBWR'] == 'AVX2'
    pinned = digest(**pins)
    assert pinned == digest(**dict(pins, **AVX2_HOST))
    if host_has_avx512():
        # The problem the pins solve: unpinned, this host's AVX-512 kernels
        # give other bits than an AVX2 host at the same thread count.
        threads = dict(OMP_NUM_THREADS='2', MKL_NUM_THREADS='2')
        assert digest(**threads) != digest(**threads, **AVX2_HOST)


def test_demo_sources_the_pins():
    demo = (ROOT / 'scripts/demo.sh').read_text()
    assert '. scripts/reproducible_cpu_env.sh' in demo

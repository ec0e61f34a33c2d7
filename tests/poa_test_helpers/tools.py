"""For tests: the repository's tools and the frameworks' stock tools, run
as a user runs them: a script as ``__main__`` with its arguments."""
import os
import os.path as osp
import runpy
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from importlib import import_module

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))

# The tiny POA recipe of each family and a middle sub-network of it.
FAMILIES = {
    'vit': ('configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py', '64x4'),
    'swin': ('configs/poa/poa_swin-tiny_1xb32-500i_fashion-mnist.py',
             '16x2'),
    'resnet': ('configs/poa/poa_resnet-tiny_1xb32-500i_fashion-mnist.py',
               '32-2-3'),
}


def run(cmd, repo_root=ROOT, check=True, cwd=None, timeout=600):
    """``python cmd...`` (a script path first) with the repository on
    ``PYTHONPATH``; asserts rc 0 unless ``check`` is false.

    The script runs as ``__main__`` in a fork of this process once the
    frameworks are imported here (``run_in_fork``): the same code and
    arguments as a fresh interpreter, without its 5-8 s of imports.
    ``POA_TEST_SUBPROCESS=1`` runs every command in a fresh interpreter."""
    cwd = cwd or repo_root
    if can_fork():
        proc = run_in_fork(list(cmd), cwd, timeout)
    else:
        env = dict(os.environ, OMP_NUM_THREADS='1',
                   PYTHONPATH=f'{repo_root}:{repo_root}/tests')
        proc = subprocess.run([sys.executable] + list(cmd), cwd=cwd,
                              env=env, capture_output=True, text=True,
                              timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def can_fork() -> bool:
    """Whether a fork of this process runs a tool as a fresh interpreter
    would: POSIX, one intra-op thread (GNU OpenMP does not survive a fork
    of a process that used more), no process group of its own."""
    if os.environ.get('POA_TEST_SUBPROCESS') == '1' or \
            not hasattr(os, 'fork'):
        return False
    import torch
    import torch.distributed as dist
    return torch.get_num_threads() == 1 and not (
        dist.is_available() and dist.is_initialized())


def preload_frameworks() -> None:
    """What every tool imports first, imported once per test process."""
    import mmdet.models  # noqa: F401
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401

    import poa_mm  # noqa: F401


def run_in_fork(cmd, cwd, timeout) -> subprocess.CompletedProcess:
    """Run the script ``cmd[0]`` with arguments ``cmd[1:]`` as ``__main__``
    in a child process forked from this one; its stdout and stderr are
    captured through files, its exit status is the return code."""
    preload_frameworks()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child never returns to the test
            code = 1
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = open(1, 'w', buffering=1, closefd=False)
                sys.stderr = open(2, 'w', buffering=1, closefd=False)
                os.chdir(cwd)
                os.environ['OMP_NUM_THREADS'] = '1'
                script = osp.abspath(cmd[0])
                sys.argv = [script] + cmd[1:]
                sys.path.insert(0, osp.dirname(script))
                runpy.run_path(script, run_name='__main__')
                code = 0
            except SystemExit as exc:  # as the interpreter ends on it
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise subprocess.TimeoutExpired(cmd, timeout)
            time.sleep(0.05)
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read().decode(errors='replace'))
    return subprocess.CompletedProcess(
        [sys.executable] + cmd, os.waitstatus_to_exitcode(status), *texts)


def stock_tool(package: str, name: str) -> str:
    """The path of ``tools/<name>`` shipped inside an installed OpenMMLab
    package (``mmpretrain/.mim/tools/train.py``)."""
    path = osp.join(osp.dirname(import_module(package).__file__), '.mim',
                    'tools', name)
    assert osp.isfile(path), f'{package} ships no {name} at {path}'
    return path


def poa_training(family: str, work_dir: str, data_root: str,
                 repo_root=ROOT) -> str:
    """A 2-iteration POA checkpoint of ``family``'s tiny supernet."""
    run(['tools/train.py', FAMILIES[family][0], '--work-dir', work_dir,
         '--cfg-options', 'train_cfg.max_iters=2',
         'train_dataloader.batch_size=4',
         'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         f'train_dataloader.dataset.data_root={data_root}',
         'model.head.num_prototypes=(64,128)',
         'model.head.hidden_channels=64',
         'default_hooks.checkpoint.interval=2'], repo_root)
    return osp.join(work_dir, 'iter_2.pth')

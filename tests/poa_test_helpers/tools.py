"""For tests: the repository's tools and the frameworks' stock tools, run
as subprocesses the way a user runs them."""
import os
import os.path as osp
import subprocess
import sys
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
    ``PYTHONPATH``; asserts rc 0 unless ``check`` is false."""
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=f'{repo_root}:{repo_root}/tests')
    proc = subprocess.run([sys.executable] + list(cmd),
                          cwd=cwd or repo_root, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


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

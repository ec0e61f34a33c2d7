"""The paper's claim in miniature: the smallest and the intact sub-network
of one POA run against the same architectures trained separately with the
two-branch step (elastic branch off), same recipe, batch and length, tiny
ViT on Fashion-MNIST. k-NN (k=20) and linear probe of each; JSON and a
Markdown table.

On a GPU (the default when one is visible) it uses the GPU demo's config
(3 epochs at batch 256, bf16): three trainings and their evaluation, about
8 minutes on one H100-class GPU. On the CPU, the CPU demo's config (three
500-iteration runs, about 40 minutes on 2 cores). Not in CI.

    python benchmarks/family_vs_separate.py [--device cuda] [--middle]
    python benchmarks/family_vs_separate.py --device cpu \\
        --poa-checkpoint work_dirs/demo/iter_500.pth   # reuse the demo's
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

import torch
from mmengine.config import Config

from poa_mm.evaluation.device import resolve_device

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
CONFIGS = dict(
    cpu='configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py',
    cuda='configs/poa/poa_vit-tiny_1xb256-3e_fashion-mnist.py')
# The separately trained architectures (the supernet's 'tiny' is 192x6).
ARCHS = dict(
    smallest=('64x3', dict(embed_dims=64, num_layers=3, head_dims=32,
                           widths=[64], depths=[3])),
    middle=('128x5', dict(embed_dims=128, num_layers=5, head_dims=32,
                          widths=[128], depths=[5])),
    intact=('192x6', 'tiny'))


def separate_config(work: str, base: str, name: str) -> str:
    """``base`` with the elastic branch off, for the architecture ``name``:
    the same schedules, no sub-network sampling, no family evaluation."""
    _, arch = ARCHS[name]
    if isinstance(arch, dict):
        arch = dict(arch, _delete_=True, img_size=28, patch_size=4)
    width = arch['embed_dims'] if isinstance(arch, dict) else 192
    schedule = [h.to_dict() for h in Config.fromfile(base).custom_hooks
                if h['type'] == 'POAScheduleHook']
    path = osp.join(work, f'{name}.py')
    with open(path, 'w') as f:
        f.write(f'''_base_ = [{base!r}]
model = dict(use_elastic=False, backbone=dict(arch={arch!r}),
             head=dict(in_channels={width}))
custom_hooks = {schedule!r}
''')
    return path


def python_path() -> str:
    """The repository first, then the caller's ``PYTHONPATH`` (a GPU
    machine's carried packages)."""
    rest = os.environ.get('PYTHONPATH')
    return f'{ROOT}:{rest}' if rest else ROOT


def device_env(device: str) -> dict:
    """The environment of a training subprocess: the Runner uses CUDA
    whenever it sees it, so ``--device cpu`` hides it."""
    env = dict(os.environ)
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    return env


def train(config: str, work: str, device: str, options: list) -> str:
    """Train once (a finished run in ``work`` is reused); the final
    checkpoint."""
    done = osp.join(work, 'finished')
    if not osp.exists(done):
        resume = ['--resume'] if osp.exists(
            osp.join(work, 'last_checkpoint')) else []
        cmd = [sys.executable, 'tools/train.py', config, '--work-dir', work,
               *resume]
        if options:
            cmd += ['--cfg-options', *options]
        subprocess.run(cmd, cwd=ROOT, check=True, env=device_env(device))
        open(done, 'w').close()
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def evaluate(config: str, ckpt: str, subnets, out_dir: str, device: str,
             dirs) -> dict:
    """k-NN and linear probe of ``subnets``: {spec: {k20, linear}}."""
    common = [config, ckpt, '--subnets', *subnets, '--train-dir', dirs[0],
              '--val-dir', dirs[1], '--out-dir', out_dir, '--device',
              device, *(['--amp'] if device.startswith('cuda') else [])]
    for tool in ('knn_eval.py', 'linear_probe.py'):
        subprocess.run([sys.executable, f'tools/{tool}', *common], cwd=ROOT,
                       check=True, env=device_env(device))
    rows = {}
    for name in ('knn', 'linear'):
        with open(osp.join(out_dir, f'{name}.json')) as f:
            for r in json.load(f):
                rows.setdefault(r['subnet'], {}).update(
                    {k: v for k, v in r.items() if k in ('k20', 'linear')})
    return rows


def table(results: dict, names) -> list:
    """Markdown rows: each size from the POA run, then trained alone."""
    lines = ['| sub-network | training | k-NN k=20 | linear probe |',
             '|---|---|---|---|']
    for name in names:
        spec = ARCHS[name][0]
        for how, r in (('POA (one run, extracted)', results['poa'][spec]),
                       ('two-branch, trained alone', results[name][spec])):
            lines.append(f'| {spec} | {how} | {r["k20"]:.2f} | '
                         f'{r["linear"]:.2f} |')
    return lines


def environment(device: str) -> dict:
    commit = os.environ.get('POA_MM_COMMIT') or subprocess.run(
        ['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT,
        capture_output=True, text=True).stdout.strip()
    return dict(device=device, torch=torch.__version__,
                gpu=torch.cuda.get_device_name(0)
                if device.startswith('cuda') else None,
                commit=commit or None)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--device', default=None,
                   help='cpu or cuda (default: cuda when visible)')
    p.add_argument('--config', help='the POA config (default: the GPU '
                   "demo's on cuda, the CPU demo's on cpu)")
    p.add_argument('--middle', action='store_true',
                   help='also train 128x5 alone')
    p.add_argument('--poa-checkpoint', help='reuse this POA run')
    p.add_argument('--train-dir', default='data/fashion_mnist_knn/train',
                   help='k-NN bank and linear-probe training images')
    p.add_argument('--val-dir', default='data/fashion_mnist_knn/test')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   metavar='KEY=VALUE', help='passed to every training '
                   "(tools/train.py's --cfg-options, e.g. a shorter run)")
    p.add_argument('--work-dir', default='work_dirs/family_vs_separate')
    p.add_argument('--out', default='benchmarks/results/'
                   'family_vs_separate.json')
    args = p.parse_args()
    device = str(resolve_device(args.device))
    kind = 'cuda' if device.startswith('cuda') else 'cpu'
    config = osp.join(ROOT, args.config or CONFIGS[kind])
    options = args.cfg_options
    work = osp.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    if args.train_dir == p.get_default('train_dir'):
        subprocess.run([sys.executable, 'tools/prepare_fashion_mnist.py',
                        '--out', 'data/fashion_mnist_knn',
                        '--train-per-class', '500'], cwd=ROOT, check=True)
    if not any('data_root' in o for o in options):
        subprocess.run([sys.executable, 'tools/prepare_fashion_mnist.py',
                        '--out', 'data/fashion_mnist'], cwd=ROOT, check=True)
    dirs = (args.train_dir, args.val_dir)
    names = ['smallest', *(['middle'] if args.middle else []), 'intact']
    start, seconds = time.time(), {}
    poa_ckpt = args.poa_checkpoint or train(
        config, osp.join(work, 'poa'), device, options)
    seconds['poa'] = time.time() - start
    results = dict(poa=evaluate(config, poa_ckpt,
                                [ARCHS[n][0] for n in names],
                                osp.join(work, 'poa_eval'), device, dirs))
    for name in names:
        t0 = time.time()
        separate = separate_config(work, config, name)
        ckpt = train(separate, osp.join(work, name), device, options)
        seconds[name] = time.time() - t0
        results[name] = evaluate(separate, ckpt, ['max'],
                                 osp.join(work, f'{name}_eval'), device, dirs)
    lines = table(results, names)
    print('\n'.join(lines))
    wall = time.time() - start
    out = osp.join(ROOT, args.out) if not osp.isabs(args.out) else args.out
    os.makedirs(osp.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(dict(benchmark='family_vs_separate', config=osp.relpath(
            config, ROOT), cfg_options=options, poa_checkpoint=poa_ckpt,
            results=results, table=lines, seconds=seconds, wall_s=wall,
            **environment(device)), f, indent=1)
    print(f'wrote {out} ({wall / 60:.1f} min)')


if __name__ == '__main__':
    main()

"""The paper's claim in miniature: the smallest and the intact sub-network
of one POA run against the same architectures trained separately with the
two-branch step (elastic branch off), same recipe and iterations, tiny ViT
on Fashion-MNIST (CPU). k-NN (k=20) and linear probe for each; JSON and a
table. Not in CI: about 40 minutes on 2 cores (three 500-iteration runs).

    python benchmarks/family_vs_separate.py [--iters 500] \
        [--poa-checkpoint work_dirs/demo/iter_500.pth]   # reuse the demo's
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
sys.path.insert(0, ROOT)
CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'
SMALLEST = dict(_delete_=True, embed_dims=64, num_layers=3, head_dims=32,
                img_size=28, patch_size=4, widths=[64], depths=[3])


def separate_config(work: str, name: str, arch, iters: int) -> str:
    """The demo recipe with the elastic branch off, for ``arch``."""
    from mmengine.config import Config
    base = Config.fromfile(osp.join(ROOT, CONFIG))
    schedule = [h.to_dict() for h in base.custom_hooks
                if h['type'] == 'POAScheduleHook']
    path = osp.join(work, f'{name}.py')
    width = arch['embed_dims'] if isinstance(arch, dict) else 192
    with open(path, 'w') as f:
        f.write(f'''_base_ = [{osp.join(ROOT, CONFIG)!r}]
model = dict(use_elastic=False, backbone=dict(arch={arch!r}),
             head=dict(in_channels={width}))
train_cfg = dict(max_iters={iters})
# The same schedules; no sub-network sampling, no family evaluation.
custom_hooks = {schedule!r}
''')
    return path


def device_env(device: str) -> dict:
    """The environment of a training subprocess: the Runner uses CUDA
    whenever it sees it, so ``--device cpu`` hides it."""
    env = dict(os.environ)
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    return env


def train(config: str, work: str, iters: int, device: str = 'cpu') -> str:
    ckpt = osp.join(work, f'iter_{iters}.pth')
    if not osp.exists(ckpt):
        subprocess.run([sys.executable, 'tools/train.py', config,
                        '--work-dir', work], cwd=ROOT, check=True,
                       env=device_env(device))
    return ckpt


def evaluate(config: str, ckpt: str, subnets, out_dir: str,
             device: str = 'cpu') -> dict:
    common = [config, ckpt, '--subnets', *subnets, '--train-dir',
              'data/fashion_mnist_knn/train', '--val-dir',
              'data/fashion_mnist_knn/test', '--out-dir', out_dir,
              '--device', device]
    for tool in ('knn_eval.py', 'linear_probe.py'):
        subprocess.run([sys.executable, f'tools/{tool}', *common], cwd=ROOT,
                       check=True)
    rows = {}
    for name in ('knn', 'linear'):
        with open(osp.join(out_dir, f'{name}.json')) as f:
            for r in json.load(f):
                rows.setdefault(r['subnet'], {}).update(
                    {k: v for k, v in r.items() if k in ('k20', 'linear')})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--iters', type=int, default=500)
    p.add_argument('--poa-checkpoint')
    p.add_argument('--work-dir', default='work_dirs/family_vs_separate')
    p.add_argument('--device', default=None,
                   help='cpu or cuda (default: cuda when visible)')
    p.add_argument('--out', default='benchmarks/results/'
                   'family_vs_separate.json')
    args = p.parse_args()
    from poa_mm.apis.device import resolve_device
    device = str(resolve_device(args.device))
    work = osp.join(ROOT, args.work_dir)
    os.makedirs(work, exist_ok=True)
    subprocess.run([sys.executable, 'tools/prepare_fashion_mnist.py', '--out',
                    'data/fashion_mnist'], cwd=ROOT, check=True)
    subprocess.run([sys.executable, 'tools/prepare_fashion_mnist.py', '--out',
                    'data/fashion_mnist_knn', '--train-per-class', '500'],
                   cwd=ROOT, check=True)
    start = time.time()
    poa_ckpt = args.poa_checkpoint or train(
        osp.join(ROOT, CONFIG), osp.join(work, 'poa'), args.iters, device)
    results = dict(poa=evaluate(CONFIG, poa_ckpt, ['min', 'max'],
                                osp.join(work, 'poa_eval'), device))
    for name, arch in (('smallest', SMALLEST), ('intact', 'tiny')):
        config = separate_config(work, name, arch, args.iters)
        ckpt = train(config, osp.join(work, name), args.iters, device)
        results[name] = evaluate(config, ckpt, ['max'],
                                 osp.join(work, f'{name}_eval'), device)
    poa = results['poa']
    table = [('64x3', 'POA (one run, extracted)', poa['64x3']),
             ('64x3', 'two-branch, trained alone',
              results['smallest']['64x3']),
             ('192x6', 'POA (one run, extracted)', poa['192x6']),
             ('192x6', 'two-branch, trained alone',
              results['intact']['192x6'])]
    print('| sub-network | training | k-NN k=20 | linear probe |')
    print('|---|---|---|---|')
    for spec, how, r in table:
        print(f'| {spec} | {how} | {r["k20"]:.2f} | {r["linear"]:.2f} |')
    os.makedirs(osp.dirname(osp.join(ROOT, args.out)), exist_ok=True)
    with open(osp.join(ROOT, args.out), 'w') as f:
        json.dump(dict(benchmark='family_vs_separate', iters=args.iters,
                       device=device,
                       poa_checkpoint=poa_ckpt, results=results,
                       wall_s=time.time() - start), f, indent=1)
    print(f'wrote {args.out} ({(time.time() - start) / 60:.1f} min)')


if __name__ == '__main__':
    main()

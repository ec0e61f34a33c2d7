"""Elastify in miniature (tiny ViT, Fashion-MNIST, CPU): a family of all
sizes from a model trained alone, against POA from scratch.

1. Train the standard tiny ViT (192x6) with the two-branch step (elastic
   branch off) for ``--iters`` iterations; extract it.
2. Elastify it with and without importance reordering (tools/elastify.py)
   and k-NN the family before any training.
3. Continue POA from each for ``--iters / 4`` iterations
   (configs/poa/poa_vit-tiny_1xb32-125i_fashion-mnist-elastify.py).
4. POA from scratch for the same total, ``1.25 x --iters`` iterations.

k-NN (k=20, 500 training images per class as the bank, the 10k test
images as queries) of every evaluated sub-network; JSON and a table. Not in
CI: about 45 minutes on 2 cores at the default 500 iterations.

    python benchmarks/elastify_fmnist.py [--iters 500]
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time

from common import run_parser
from family_vs_separate import ROOT, separate_config, train

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'
CONTINUE = 'configs/poa/poa_vit-tiny_1xb32-125i_fashion-mnist-elastify.py'
SUBNETS = ['min', '96x4', '128x5', '160x5', 'max']
KNN = ['--train-dir', 'data/fashion_mnist_knn/train', '--val-dir',
       'data/fashion_mnist_knn/test', '--ks', '20']


def run(*cmd):
    subprocess.run([sys.executable, *cmd], cwd=ROOT, check=True)


def knn(config: str, ckpt: str, out_dir: str) -> dict:
    run('tools/knn_eval.py', config, ckpt, '--subnets', *SUBNETS, *KNN,
        '--out-dir', out_dir)
    with open(osp.join(out_dir, 'knn.json')) as f:
        return {r['subnet']: r['k20'] for r in json.load(f)}


def poa_config(work: str, name: str, base: str, iters: int) -> str:
    """``base`` with ``iters`` iterations (its schedules follow)."""
    path = osp.join(work, f'{name}.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{osp.join(ROOT, base)!r}]\n'
                f'train_cfg = dict(max_iters={iters})\n')
    return path


def main():
    args = run_parser(__doc__, 'elastify_fmnist', 500).parse_args()
    work = osp.join(ROOT, args.work_dir)
    os.makedirs(work, exist_ok=True)
    run('tools/prepare_fashion_mnist.py', '--out', 'data/fashion_mnist')
    run('tools/prepare_fashion_mnist.py', '--out', 'data/fashion_mnist_knn',
        '--train-per-class', '500')
    start, results, stages = time.time(), {}, {}

    def stage(name):
        stages[name] = round((time.time() - start) / 60, 1)
        print(f'[elastify_fmnist] {name} done at {stages[name]} min',
              flush=True)

    # 1. the standard model, trained alone
    length = [f'train_cfg.max_iters={args.iters}']
    alone = train(separate_config(work, osp.join(ROOT, CONFIG), 'intact'),
                  osp.join(work, 'alone'), 'cpu', length)
    vit = osp.join(work, 'vit.pth')
    if not osp.exists(vit):
        run('tools/extract_subnet.py', alone, '--subnet', 'max', '--out',
            vit)
    stage('two-branch training')
    # 2. elastified, with and without reordering; the family before training
    short = max(args.iters // 4, 1)
    cont = poa_config(work, 'continue', CONTINUE, short)
    for name, extra in (('reordered', ['--data', 'data/fashion_mnist/train']),
                        ('plain', ['--no-reorder'])):
        init = osp.join(work, f'init_{name}.pth')
        if not osp.exists(init):
            run('tools/elastify.py', vit, '--format', 'mmpretrain',
                '--config', cont, '--out', init, *extra)
        results[f'elastified_{name}_before'] = knn(
            cont, init, osp.join(work, f'{name}_before'))
        # 3. continued POA
        ckpt = osp.join(work, name, f'iter_{short}.pth')
        if not osp.exists(ckpt):
            run('tools/train.py', cont, '--work-dir', osp.join(work, name),
                '--cfg-options', f'load_from={init}')
        results[f'elastified_{name}_after'] = knn(
            cont, ckpt, osp.join(work, f'{name}_after'))
        stage(f'elastify ({name})')
    # 4. POA from scratch, same total iterations
    total = args.iters + short
    scratch = train(poa_config(work, 'scratch', CONFIG, total),
                    osp.join(work, 'scratch'), 'cpu', [])
    results['scratch'] = knn(CONFIG, scratch, osp.join(work, 'scratch_eval'))
    stage('POA from scratch')

    rows = [('POA from scratch', f'{total}', 'scratch'),
            ('elastified, reordered, before POA', f'{args.iters} + 0',
             'elastified_reordered_before'),
            ('elastified, not reordered, before POA', f'{args.iters} + 0',
             'elastified_plain_before'),
            ('elastified, reordered, + POA', f'{args.iters} + {short}',
             'elastified_reordered_after'),
            ('elastified, not reordered, + POA', f'{args.iters} + {short}',
             'elastified_plain_after')]
    specs = list(results['scratch'])
    print('| family | iterations | ' + ' | '.join(specs) + ' |')
    print('|---|---|' + '---|' * len(specs))
    for label, iters, key in rows:
        print(f'| {label} | {iters} | ' + ' | '.join(
            f'{results[key][s]:.2f}' for s in specs) + ' |')
    os.makedirs(osp.dirname(osp.join(ROOT, args.out)), exist_ok=True)
    with open(osp.join(ROOT, args.out), 'w') as f:
        json.dump(dict(benchmark='elastify_fmnist', iters=args.iters,
                       continued_iters=short, results=results,
                       stage_minutes=stages,
                       wall_s=time.time() - start), f, indent=1)
    print(f'wrote {args.out} ({(time.time() - start) / 60:.1f} min)')


if __name__ == '__main__':
    main()

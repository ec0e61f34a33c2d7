"""Every size from one fine-tuning against one fine-tuning per size.

From one POA checkpoint (the CPU demo's; trained here when missing), on
Fashion-MNIST, in one run on one machine:

(a) ``family``: every size at once (``tools/to_mmpretrain.py --elastic``,
    the sandwich rule with in-place distillation, ``tools/train.py``);
(b) ``separate``: each of the five demo sizes extracted and fine-tuned
    alone with its ``tools/to_mmpretrain.py`` config by MMPretrain's own
    ``tools/train.py``, same data, batch, recipe and seed;
(c) ``random``: (b) with the backbone at its random init.

Top-1 per size on the held-out images, wall seconds and images per run;
JSON and a Markdown table.

    python benchmarks/elastic_finetune.py --quick          # <= 30 min, 2 cores
    python benchmarks/elastic_finetune.py --device cuda    # the full recipe
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

from common import stock_tool
from family_vs_separate import (ROOT, device_env, environment, python_path,
                                train)

from poa_mm.evaluation.device import resolve_device

DEMO_CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'
SIZES = ['64x3', '96x4', '128x5', '160x5', '192x6']  # the demo's five
# Images per class (train, test), iterations of one size and of the family,
# random branches per family step, batch.
RECIPES = dict(
    quick=dict(train_per_class=200, test_per_class=100, iters=300,
               family_iters=300, num_random=1, batch_size=64, lr=None,
               label_weight=0.),
    full=dict(train_per_class=None, test_per_class=None, iters=4690,
              family_iters=4690, num_random=2, batch_size=128, lr=None,
              label_weight=0.))


def lr_args(recipe) -> list:
    return ['--lr', str(recipe['lr'])] if recipe['lr'] else []


def tool(script, args, device):
    """Run ``script`` (``tools/<script>`` when a bare name); its wall
    seconds."""
    start = time.time()
    path = script if osp.isabs(script) else osp.join('tools', script)
    subprocess.run([sys.executable, path, *args], cwd=ROOT, check=True,
                   env=dict(device_env(device), PYTHONPATH=python_path()))
    return time.time() - start


def final_top1(work: str) -> float:
    """The last ``val/accuracy/top1`` a stock run logged."""
    scalars = sorted(
        osp.join(root, 'scalars.json') for root, _, files in os.walk(work)
        if 'scalars.json' in files)
    rows = [json.loads(line) for line in open(scalars[-1])]
    return [r for r in rows if 'val/accuracy/top1' in r][-1][
        'val/accuracy/top1']


def run_separate(name, spec, poa_ckpt, data, work, recipe, device,
                 random_init=False):
    """Extract ``spec``, write its config, fine-tune it with the stock
    train.py; ``dict(top1, wall_s)`` (a finished run is reused)."""
    out = osp.join(work, name, spec)
    done = osp.join(out, 'result.json')
    if osp.exists(done):
        return json.load(open(done))
    os.makedirs(out, exist_ok=True)
    subnet = osp.join(out, 'subnet.pth')
    if not osp.exists(subnet):
        tool('extract_subnet.py', [poa_ckpt, '--subnet', spec, '--out',
              subnet], device)
    cfg = osp.join(out, 'cls.py')
    tool('to_mmpretrain.py', [subnet, '--data-root', data, '--out', cfg,
          '--overwrite', '--max-iters', str(recipe['iters']),
          '--batch-size', str(recipe['batch_size']), *lr_args(recipe),
          *(['--random-init'] if random_init else [])], device)
    wall = tool(stock_tool('mmpretrain', 'train.py'), [cfg, '--work-dir',
                                       osp.join(out, 'work')], device)
    result = dict(top1=final_top1(osp.join(out, 'work')), wall_s=wall,
                  images=recipe['iters'] * recipe['batch_size'],
                  branch_images=recipe['iters'] * recipe['batch_size'])
    json.dump(result, open(done, 'w'))
    return result


def run_family(poa_ckpt, data, work, recipe, device):
    """Every size in one run; ``dict(top1={spec: top1}, wall_s, ...)``."""
    out = osp.join(work, 'family')
    done = osp.join(out, 'result.json')
    if osp.exists(done):
        return json.load(open(done))
    os.makedirs(out, exist_ok=True)
    cfg = osp.join(out, 'family.py')
    tool('to_mmpretrain.py', [poa_ckpt, '--elastic', '--data-root', data,
          '--out', cfg, '--overwrite', '--max-iters',
          str(recipe['family_iters']), '--batch-size',
          str(recipe['batch_size']), '--num-random',
          str(recipe['num_random']), '--label-weight',
          str(recipe['label_weight']), *lr_args(recipe), '--val-subnets',
          *SIZES], device)
    wall = tool('train.py', [cfg, '--work-dir', osp.join(out, 'work')],
                device)
    with open(osp.join(out, 'work', 'family_val.json')) as f:
        last = json.load(f)[-1]['metrics']
    images = recipe['family_iters'] * recipe['batch_size']
    result = dict(top1={s: last[s]['accuracy/top1'] for s in SIZES},
                  wall_s=wall, images=images,
                  branch_images=images * (2 + recipe['num_random']))
    json.dump(result, open(done, 'w'))
    return result


def table(results: dict) -> list:
    fam, sep, rnd = (results[k] for k in ('family', 'separate', 'random'))
    lines = ['| size | one run (family) | fine-tuned alone | alone, random '
             'init | family - alone |', '|---|---|---|---|---|']
    for s in SIZES:
        lines.append(f'| {s} | {fam["top1"][s]:.2f} | {sep[s]["top1"]:.2f} '
                     f'| {rnd[s]["top1"]:.2f} | '
                     f'{fam["top1"][s] - sep[s]["top1"]:+.2f} |')
    sep_wall = sum(sep[s]['wall_s'] for s in SIZES)
    lines.append(f'| wall (s) | {fam["wall_s"]:.0f} | {sep_wall:.0f} '
                 f'(five runs) | {sum(rnd[s]["wall_s"] for s in SIZES):.0f}'
                 f' | ratio {fam["wall_s"] / sep_wall:.2f} |')
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--device', default=None,
                   help='cpu or cuda (default: cuda when visible)')
    p.add_argument('--quick', action='store_true',
                   help='the CPU recipe (<= 30 minutes on 2 cores)')
    p.add_argument('--poa-checkpoint', default=None,
                   help="default: the CPU demo's (work_dirs/demo), trained "
                   'here when missing')
    p.add_argument('--iters', type=int, help="each size's fine-tuning")
    p.add_argument('--family-iters', type=int)
    p.add_argument('--num-random', type=int)
    p.add_argument('--lr', type=float, help="both arms' peak lr (default: "
                   "the writer's, scaled to the batch)")
    p.add_argument('--label-weight', type=float,
                   help="the family's share of the label loss in the "
                   'sampled branches (default 0: distillation only)')
    p.add_argument('--work-dir', default='work_dirs/elastic_finetune')
    p.add_argument('--out', default=None, help='default: benchmarks/results/'
                   'elastic_finetune_{quick,full}_{cpu,cuda}.json')
    args = p.parse_args()
    device = str(resolve_device(args.device))
    name = 'quick' if args.quick else 'full'
    recipe = dict(RECIPES[name])
    for key in ('iters', 'family_iters', 'num_random', 'lr', 'label_weight'):
        if getattr(args, key) is not None:
            recipe[key] = getattr(args, key)
    work = osp.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    data = osp.join(ROOT, 'data', f'fashion_mnist_finetune_{name}')
    per_class = [f'--{split}-per-class={recipe[f"{split}_per_class"]}'
                 for split in ('train', 'test')
                 if recipe[f'{split}_per_class']]
    src = os.environ.get('FASHION_MNIST_SRC')  # a GPU machine's carry
    tool('prepare_fashion_mnist.py', ['--out', data, *per_class,
                                      *(['--src', src] if src else [])],
         device)
    poa_ckpt = args.poa_checkpoint or train(
        osp.join(ROOT, DEMO_CONFIG), osp.join(ROOT, 'work_dirs', 'demo'),
        device, [])
    start = time.time()
    results = dict(family=run_family(poa_ckpt, data, work, recipe, device))
    for arm, random_init in (('separate', False), ('random', True)):
        results[arm] = {s: run_separate(arm, s, poa_ckpt, data, work,
                                        recipe, device, random_init)
                        for s in SIZES}
    lines = table(results)
    print('\n'.join(lines))
    out = args.out or osp.join(
        'benchmarks', 'results',
        f'elastic_finetune_{name}_{device.split(":")[0]}.json')
    out = out if osp.isabs(out) else osp.join(ROOT, out)
    os.makedirs(osp.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(dict(benchmark='elastic_finetune', recipe=recipe,
                       recipe_name=name, poa_checkpoint=poa_ckpt,
                       sizes=SIZES, results=results, table=lines,
                       wall_s=time.time() - start, **environment(device)),
                  f, indent=1)
    print(f'wrote {out} ({(time.time() - start) / 60:.1f} min)')


if __name__ == '__main__':
    main()

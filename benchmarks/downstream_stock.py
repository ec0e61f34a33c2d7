"""The small-data downstream recipe of docs/downstream.md, run with the
frameworks' own tools: per family (ViT, Swin, ResNet) and task (Mask R-CNN
on the trees tiles, UPerNet / linear on the VOC class maps), the stock
train.py's seconds per iteration (median after the first), its rc and the
stock test.py's metric line. JSON out.

    python benchmarks/downstream_stock.py [--iters 6]
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from statistics import median

from common import run_parser, stock_tool
from family_vs_separate import ROOT, environment, python_path

# The tiny recipe of each family and the sub-network the docs use.
FAMILIES = dict(
    vit=('configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py', '64x4'),
    swin=('configs/poa/poa_swin-tiny_1xb32-500i_fashion-mnist.py', '24x4'),
    resnet=('configs/poa/poa_resnet-tiny_1xb32-500i_fashion-mnist.py',
            '32-2-3'))
SERIAL = ['train_dataloader.num_workers=0',
          'train_dataloader.persistent_workers=False',
          'val_dataloader.num_workers=0',
          'val_dataloader.persistent_workers=False',
          'test_dataloader.num_workers=0',
          'test_dataloader.persistent_workers=False',
          'default_hooks.logger.interval=1']


def python(args, log=None):
    """Run ``python args``; (rc, output)."""
    proc = subprocess.run([sys.executable, *args], cwd=ROOT,
                          capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=python_path()))
    out = proc.stdout + proc.stderr
    if log:
        with open(log, 'w') as f:
            f.write(out)
    if proc.returncode and log is None:
        sys.exit(f'{" ".join(args)} failed:\n{out[-2000:]}')
    return proc.returncode, out


def tiny_poa(family, work, data):
    ckpt = osp.join(work, family, 'iter_2.pth')
    if not osp.exists(ckpt):
        python(['tools/train.py', FAMILIES[family][0], '--work-dir',
                osp.dirname(ckpt), '--cfg-options', 'train_cfg.max_iters=2',
                'train_dataloader.batch_size=4',
                'train_dataloader.num_workers=0',
                'train_dataloader.persistent_workers=False',
                f'train_dataloader.dataset.data_root={data}',
                'default_hooks.checkpoint.interval=2'])
    return ckpt


def measure(package, cfg, work, metric, iters, options):
    """Stock train.py then stock test.py: rc, s/iter, the metric line."""
    start = time.time()
    rc, out = python([stock_tool(package, 'train.py'), cfg, '--work-dir', work,
                      '--cfg-options', *SERIAL, *options],
                     log=osp.join(work + '_train.log'))
    wall = time.time() - start
    times = [float(t) for t in re.findall(
        r'Iter\(train\) \[\s*\d+/\d+\].*?\stime: ([\d.]+)', out)]
    row = dict(train_rc=rc, train_wall_s=round(wall, 1),
               s_per_iter=round(median(times[1:] or times), 3)
               if times else None)
    if rc == 0:
        rc, out = python([stock_tool(package, 'test.py'), cfg,
                          osp.join(work, f'iter_{iters}.pth'), '--work-dir',
                          work, '--cfg-options', *SERIAL, *options],
                         log=osp.join(work + '_test.log'))
        lines = [line for line in out.splitlines() if metric in line]
        row.update(test_rc=rc, metric_line=lines[-1].split(' - ')[-1]
                   if lines else None)
    return row


def main():
    args = run_parser(__doc__, 'downstream_stock', 6,
                      'downstream_stock_cpu').parse_args()
    work = osp.abspath(args.work_dir)
    data = osp.join(ROOT, 'data', 'downstream')
    python(['tools/prepare_downstream_data.py', '--out', data])
    fmnist = osp.join(ROOT, 'data', 'fashion_mnist_finetune_quick')
    python(['tools/prepare_fashion_mnist.py', '--out', fmnist,
            '--train-per-class', '200', '--test-per-class', '100'])
    rows = []
    for family, (_, spec) in FAMILIES.items():
        subnet = osp.join(work, f'{family}_{spec}.pth')
        if not osp.exists(subnet):
            python(['tools/extract_subnet.py',
                    tiny_poa(family, osp.join(work, 'poa'), fmnist),
                    '--subnet', spec, '--out', subnet])
        det_template = 'cascade-mask-rcnn' if family == 'vit' else \
            'mask-rcnn'
        seg_template = 'linear' if family == 'vit' else 'upernet'
        tasks = [
            ('mmdet', det_template, ['tools/to_mmdet.py', subnet,
                                     '--template', det_template,
                                     '--data-root', osp.join(data, 'trees'),
                                     '--img-scale', '160', '128'],
             'coco/bbox_mAP',
             # a few iterations score no box above 0.05: keep them all
             ['model.test_cfg.rcnn.score_thr=0.0']),
            ('mmseg', seg_template, ['tools/to_mmseg.py', subnet,
                                     '--template', seg_template,
                                     '--data-root',
                                     osp.join(data, 'voc_semantic'),
                                     '--crop-size', '64'], 'mIoU', [])]
        for package, template, writer, metric, options in tasks:
            name = f'{family}_{template}'
            cfg = osp.join(work, f'{name}.py')
            python(writer + ['--max-iters', str(args.iters), '--out', cfg,
                             '--overwrite'])
            row = dict(family=family, subnet=spec, task=package,
                       template=template, command=' '.join(
                           [f'python {package}/.mim/tools/train.py',
                            osp.basename(cfg)]),
                       **measure(package, cfg, osp.join(work, name), metric,
                                 args.iters, options))
            print(json.dumps(row))
            rows.append(row)
    out = args.out if osp.isabs(args.out) else osp.join(ROOT, args.out)
    os.makedirs(osp.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(dict(benchmark='downstream_stock', iters=args.iters,
                       rows=rows, **environment('cpu')), f, indent=1)
    print(f'wrote {out}')


if __name__ == '__main__':
    main()

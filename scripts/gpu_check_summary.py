"""Summarise a run of scripts/gpu_check.sh: summary.json (GPU, torch,
commit, each stage's status and seconds, the cuda tier's counts, training
seconds per iteration, the k-NN / linear-probe table and the GPU step
table) and the same in a few printed lines."""
import argparse
import datetime
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys
from statistics import median


def stages(path: str) -> dict:
    out = {}
    for line in open(path):
        name, rc, seconds = line.rstrip('\n').split('\t')
        out[name] = dict(rc=int(rc) if rc.lstrip('-').isdigit() else rc,
                         seconds=float(seconds))
    return out


def pytest_counts(log: str) -> dict:
    """Counts of the last pytest summary line ('3 passed, 1 skipped')."""
    lines = [line for line in log.splitlines()
             if re.search(r'\d+ (passed|failed|errors?|skipped) .*in [\d.]+s',
                          line)]
    if not lines:
        return {}
    return {k: int(n) for n, k in
            re.findall(r'(\d+) (passed|failed|errors?|skipped|deselected)',
                       lines[-1])}


def seconds_per_iter(work_dir: str) -> dict:
    """Median 'time' of the Runner's log lines (skipping the first, which
    holds the start-up) and the data time, in seconds per iteration."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    if not logs:
        return {}
    text = open(logs[-1]).read()
    times = [float(t) for t in re.findall(r'\btime: ([\d.]+)', text)]
    data = [float(t) for t in re.findall(r'data_time: ([\d.]+)', text)]
    if len(times) < 2:
        return {}
    return dict(s_per_iter=median(times[1:]),
                data_s_per_iter=median(data[1:]) if len(data) > 1 else None,
                logged=len(times))


def commit() -> str:
    if os.environ.get('POA_MM_COMMIT'):
        return os.environ['POA_MM_COMMIT']
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def load(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--stages', required=True)
    p.add_argument('--results', required=True)
    p.add_argument('--work', required=True)
    p.add_argument('--mmcv-objects', type=int, default=0)
    p.add_argument('--mmcv-sources', type=int, default=0)
    args = p.parse_args(argv)
    import torch
    log = open(osp.join(args.results, 'gpu_check.log')).read()
    cuda_log = log.split('=== [cuda_tests]')[1] if '=== [cuda_tests]' in \
        log else ''
    gpu_step = load(osp.join(args.results, 'gpu_step.json')) or {}
    summary = dict(
        date=datetime.date.today().isoformat(), commit=commit(),
        gpu=(torch.cuda.get_device_name() if torch.cuda.is_available()
             else None),
        torch=torch.__version__, cuda=torch.version.cuda,
        python=sys.version.split()[0],
        stages=stages(args.stages),
        cuda_tests=pytest_counts(cuda_log),
        train=seconds_per_iter(osp.join(args.work, 'train')),
        train_b256=seconds_per_iter(osp.join(args.work, 'train_b256')),
        mmcv_build=dict(objects=args.mmcv_objects,
                        sources=args.mmcv_sources),
        knn=load(osp.join(args.results, 'knn.json')),
        linear=load(osp.join(args.results, 'linear.json')),
        gpu_step_steps=gpu_step.get('steps'),
        gpu_step_overhead=gpu_step.get('elastic_overhead'))
    with open(osp.join(args.results, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(f'GPU check on {summary["gpu"]}, torch {summary["torch"]}, commit '
          f'{summary["commit"][:10]}')
    for name, s in summary['stages'].items():
        print(f'  {name:>12}: rc {s["rc"]}, {s["seconds"]:.0f} s')
    print(f'  cuda tier: {summary["cuda_tests"]}')
    for key in ('train', 'train_b256'):
        if summary[key]:
            print(f'  {key}: {summary[key]["s_per_iter"]:.3f} s/iteration')
    print(f'wrote {osp.join(args.results, "summary.json")}')
    failed = [n for n, s in summary['stages'].items()
              if s['rc'] not in (0, 'timeout') and n != 'mmcv_build']
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

"""One POA training step (joint backward, and split backward: one student
graph alive at a time) vs. the same step with the elastic branch switched
off (a DINOv2-style two-branch step: teacher + intact student), same
backbone, heads and crops, each through ``model.train_step`` with
``POAOptimWrapper``. Each mode runs in its own process so that peak memory
(CUDA max allocated, or peak RSS on CPU) is its own. Target time ratio
<= 1.35 (DESIGN), memory ratio <= 1.3 with split backward.

    python benchmarks/train_step.py                       # tiny, CPU
    python benchmarks/train_step.py --arch large --global-size 224 \
        --local-size 96 --local-crops 8 --batch-size 16 --device cuda \
        --dtype bfloat16 --patch-grid 14                 # paper geometry
"""
import argparse
import json
import resource
import subprocess
import sys

import torch



MODES = ('two-branch', 'poa', 'poa-split')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--arch', default='tiny')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--global-size', type=int, default=28)
    p.add_argument('--local-size', type=int, default=12)
    p.add_argument('--local-crops', type=int, default=4)
    p.add_argument('--patch-grid', type=int, default=7)
    p.add_argument('--prototypes', type=int, nargs='+',
                   default=[512, 1024, 2048, 4096])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--dtype', default='float32',
                   choices=['float32', 'bfloat16'])
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--mode', choices=MODES,
                   help=argparse.SUPPRESS)
    p.add_argument('--out', default='benchmarks/results/train_step.json')
    return p.parse_args(argv)


def run_mode(args) -> dict:
    from common import device_name, time_it
    from mmpretrain.registry import MODELS

    import poa_mm  # noqa: F401

    device = torch.device(args.device)
    torch.manual_seed(0)
    backbone = dict(type='ElasticViT', arch=args.arch,
                    img_size=args.global_size, drop_path_rate=0.1)
    probe = MODELS.build(backbone)
    model = MODELS.build(dict(
        type='POA', backbone=backbone,
        head=dict(type='MultiProjectionHead',
                  in_channels=probe.embed_dims,
                  num_prototypes=args.prototypes),
        use_elastic=args.mode != 'two-branch',
        split_backward=args.mode == 'poa-split',
        data_preprocessor=dict(type='POADataPreprocessor',
                               mask_grid=(args.patch_grid, ) * 2))).to(device)
    del probe
    model.train()
    # A fixed mid-sized sub-network keeps the two runs comparable.
    space = model.backbone.search_space
    model.elastic_subnet = space.elastic_multiset[len(space.sampling) // 2]
    model.set_schedule(teacher_temp=0.07, ibot_active=True)
    from mmpretrain.registry import OPTIM_WRAPPERS
    optim_wrapper = OPTIM_WRAPPERS.build(dict(
        type='POAOptimWrapper', max_grad_norm=None,
        dtype=None if args.dtype == 'float32' else args.dtype,
        optimizer=torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1e-4)))
    gen = torch.Generator().manual_seed(0)
    b = args.batch_size
    views = [torch.randint(0, 256, (b, 3, args.global_size, args.global_size),
                           generator=gen, dtype=torch.uint8)
             for _ in range(2)]
    views += [torch.randint(0, 256, (b, 3, args.local_size, args.local_size),
                            generator=gen, dtype=torch.uint8)
              for _ in range(args.local_crops)]
    data = dict(inputs=[v.to(device) for v in views])

    def step():
        model.train_step(data, optim_wrapper)
        model.update_teacher(0.999)

    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    seconds = time_it(step, device, args.warmup, args.reps)
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(mode=args.mode, seconds=seconds, peak_bytes=peak,
                device=device_name(device), subnet=str(model.elastic_subnet))


def main():
    args = parse_args()
    if args.mode:
        print(json.dumps(run_mode(args)))
        return
    from common import write_json
    results = {}
    for mode in MODES:
        out = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], '--mode', mode],
            check=True, capture_output=True, text=True).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
        r = results[mode]
        print(f'{mode:>10}: {r["seconds"] * 1e3:9.1f} ms/step, peak '
              f'{r["peak_bytes"] / 2**20:8.1f} MiB')
    base = results['two-branch']
    ratios = {
        mode: dict(time=results[mode]['seconds'] / base['seconds'],
                   memory=results[mode]['peak_bytes'] / base['peak_bytes'])
        for mode in ('poa', 'poa-split')
    }
    for mode, r in ratios.items():
        print(f'{mode} / two-branch: time {r["time"]:.3f} (target <= 1.35), '
              f'peak memory {r["memory"]:.3f}')
    write_json(args.out, dict(
        benchmark='train_step', args=vars(args), results=results,
        ratios=ratios))


if __name__ == '__main__':
    main()

"""One-shot GPU benchmark of the POA training step.

For each supernet (ViT-B and ViT-L by default) at the paper's crops
(2 x 224 + 8 x 96 px) under bf16 autocast, three steps through
``model.train_step`` with the optimizer a config builds
(``POAOptimWrapperConstructor``: AdamW, a group per parameter, layer decay,
``POAOptimWrapper``'s per-module clipping and non-finite guard):

* ``two-branch``: teacher + intact student (DINOv2's step, elastic off);
* ``poa``: POA with one joint backward;
* ``poa-split``: POA with split backward (one student graph at a time);

and on ``--lever-archs`` the split step with one speed lever changed
(``LEVER_MODES``).

Each mode runs the same seeded sequence of elastic sub-networks (drawn from
the sampling multiset as ``ElasticSamplingHook`` does, the largest one
forced in so that peak memory sees the worst case). Reported per mode:
median step time over ``--steps`` steps after ``--warmup``, img/s (source
images, as the paper counts), peak CUDA memory, backbone TFLOP/s
(multiply-adds x 2 of every forward and backward, heads left out) and MFU
against a bf16 GEMM measured in the same run. Then one profiler pass lists
the attention kernels a POA step reaches, and the elastic backbone is
timed against its exported stock ``VisionTransformer`` at three sizes.

Needs torch, mmengine, mmcv (ops-free ``mmcv-lite`` is enough) and
mmpretrain; ``scripts/prepare_gpu_carry.sh`` collects the wheels for a
machine without OpenMMLab or network, and ``scripts/gpu_check.sh`` installs
them there and runs this script as part of the GPU check.

    python benchmarks/gpu_step.py --out results/gpu_step.json   # GPU
    python benchmarks/gpu_step.py --smoke                        # CPU, tiny
"""
import argparse
import gc
import json
import random
import time
from contextlib import nullcontext
from functools import partial

import torch

from common import (device_name, full_size_views, sync, time_it,
                    write_json)

MODES = ('two-branch', 'poa', 'poa-split')
# Levers measured against the mode they change, in the same run: the split
# step with full-size slices as views (``common.full_size_views``,
# the behaviour before the shortcut); with the optimizer's parameter groups
# merged (``paramwise_cfg.merge_groups``); merged and fused AdamW.
LEVER_MODES = ('poa-split-views', 'poa-split-merged', 'poa-split-merged-fused')
ATTENTION_KERNEL_KEYS = ('flash', 'fmha', 'cudnn', 'attention', 'sdpa',
                         'efficient')
# Per-GPU batch of the paper's ViT-L run (32 x 50); ViT-B like Swin-B's.
DEFAULT_BATCH = {'large': 50, 'base': 64, 'micro': 4}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--archs', nargs='+', default=['base', 'large'])
    p.add_argument('--lever-archs', nargs='*', default=['large'],
                   help=f'supernets on which {LEVER_MODES} are measured too')
    p.add_argument('--batch-size', type=int,
                   help='per step (default: 64 for base, 50 for large)')
    p.add_argument('--global-size', type=int, default=224)
    p.add_argument('--local-size', type=int, default=96)
    p.add_argument('--local-crops', type=int, default=8)
    p.add_argument('--prototypes', type=int, nargs='+',
                   default=[8192, 16384, 32768, 65536])
    p.add_argument('--steps', type=int, default=16)
    p.add_argument('--warmup', type=int, default=4)
    p.add_argument('--overhead-batch', type=int, default=64)
    p.add_argument('--gemm-size', type=int, default=8192)
    p.add_argument('--device', default='cuda')
    p.add_argument('--dtype', default='bfloat16',
                   choices=['float32', 'bfloat16'])
    p.add_argument('--smoke', action='store_true',
                   help='tiny supernet, small crops, few steps, CPU, fp32: '
                   'checks the script, measures nothing')
    p.add_argument('--out', default='benchmarks/results/gpu_step.json')
    args = p.parse_args(argv)
    if args.smoke:
        args.archs, args.global_size, args.local_size = ['micro'], 28, 12
        args.local_crops, args.prototypes = 2, [64, 128]
        args.steps, args.warmup, args.overhead_batch = 2, 1, 4
        args.gemm_size, args.device, args.dtype = 256, 'cpu', 'float32'
    return args


def autocast(device, dtype):
    return torch.autocast(device.type, dtype=dtype,
                          enabled=dtype != torch.float32)


def gemm_peak(device, dtype, n: int, reps: int = 20) -> float:
    """FLOP/s of a square ``n x n`` matmul in ``dtype`` (median of reps)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / time_it(lambda: a @ b, device, 3, reps)


def build_poa(args, arch, mode, device):
    """The POA model of ``mode`` and its optimizer wrapper, built as a
    config builds them (``POAOptimWrapperConstructor``: a parameter group
    per parameter, layer decay 0.9, per-module clipping)."""
    from mmpretrain.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

    import poa_mm  # noqa: F401
    torch.manual_seed(0)
    backbone = dict(type='ElasticViT', arch=arch, img_size=args.global_size,
                    drop_path_rate=0.1)
    embed_dims = MODELS.get('ElasticViT').arch_zoo[arch]['embed_dims']
    patch = MODELS.get('ElasticViT').arch_zoo[arch]['patch_size']
    model = MODELS.build(dict(
        type='POA', backbone=backbone,
        head=dict(type='MultiProjectionHead', in_channels=embed_dims,
                  num_prototypes=args.prototypes),
        use_elastic=mode != 'two-branch',
        split_backward=mode.startswith('poa-split'),
        data_preprocessor=dict(
            type='POADataPreprocessor',
            mask_grid=(args.global_size // patch, ) * 2))).to(device)
    model.train()
    model.set_schedule(teacher_temp=0.07, ibot_active=True)
    optimizer = dict(type='AdamW', lr=1e-4, weight_decay=0.04)
    if mode.endswith('-fused'):
        optimizer['fused'] = True
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='POAOptimWrapperConstructor',
        optim_wrapper_cfg=dict(
            type='POAOptimWrapper', max_grad_norm=3.0, optimizer=optimizer,
            dtype=None if args.dtype == 'float32' else args.dtype),
        paramwise_cfg=dict(layer_decay_rate=0.9,
                           merge_groups='-merged' in mode)))
    return model, constructor(model)


def subnet_sequence(space, n: int, seed: int = 0):
    """``n`` elastic sub-networks drawn as in training, largest first."""
    rng = random.Random(seed)
    multiset = space.elastic_multiset
    largest = max(multiset, key=lambda s: (s.width, sum(s.depths)))
    return [largest] + [rng.choice(multiset) for _ in range(n - 1)]


def fake_views(args, device):
    gen = torch.Generator().manual_seed(0)
    b = args.batch_size
    sizes = [args.global_size] * 2 + [args.local_size] * args.local_crops
    return dict(inputs=[
        torch.randint(0, 256, (b, 3, s, s), generator=gen,
                      dtype=torch.uint8).to(device) for s in sizes])


def step_flops(backbone, args, subnet, elastic: bool) -> int:
    """Backbone FLOPs (2 x multiply-adds) of one training step: the
    teacher's forward on the global crops, each student's forward and
    backward (3x forward) on every crop."""
    b, g, lo = args.batch_size, args.global_size, args.local_size
    intact = backbone.search_space.intact

    def views(spec):
        return 2 * backbone.flops(spec, g) + args.local_crops * \
            backbone.flops(spec, lo)

    macs = 2 * backbone.flops(intact, g) + 3 * views(intact)
    if elastic:
        macs += 3 * views(subnet)
    return 2 * b * macs


def measure_mode(args, arch, mode, device, gemm_flops) -> dict:
    with full_size_views() if mode.endswith('-views') else nullcontext():
        return _measure_mode(args, arch, mode, device, gemm_flops)


def _measure_mode(args, arch, mode, device, gemm_flops) -> dict:
    model, optim_wrapper = build_poa(args, arch, mode, device)
    data = fake_views(args, device)
    space = model.backbone.search_space
    subnets = subnet_sequence(space, args.warmup + args.steps)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times, flops = [], []
    for i, subnet in enumerate(subnets):
        model.elastic_subnet = subnet
        sync(device)
        start = time.perf_counter()
        model.train_step(data, optim_wrapper)
        model.update_teacher(0.999)
        sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            flops.append(step_flops(model.backbone, args, subnet,
                                    mode != 'two-branch'))
    seconds = sorted(times)[len(times) // 2]
    mean_flops = sum(flops) / len(flops)
    tflops = mean_flops / seconds / 1e12
    result = dict(
        mode=mode, seconds=seconds, img_per_s=args.batch_size / seconds,
        peak_bytes=(torch.cuda.max_memory_allocated(device)
                    if device.type == 'cuda' else None),
        backbone_tflop_per_step=mean_flops / 1e12, tflop_per_s=tflops,
        mfu=tflops * 1e12 / gemm_flops,
        largest_subnet=str(subnets[0]))
    del model, optim_wrapper, data
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return result


def attention_kernels(args, arch, device) -> dict:
    """Kernel (GPU) or operator (CPU) names of one POA step that look like
    attention, with their call counts."""
    from torch.profiler import ProfilerActivity, profile
    model, optim_wrapper = build_poa(args, arch, 'poa', device)
    model.elastic_subnet = subnet_sequence(model.backbone.search_space, 1)[0]
    data = fake_views(args, device)
    model.train_step(data, optim_wrapper)  # warm-up outside the trace
    activities = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        model.train_step(data, optim_wrapper)
        sync(device)
    found = {}
    for event in prof.key_averages():
        name = event.key
        if any(k in name.lower() for k in ATTENTION_KERNEL_KEYS):
            found[name] = found.get(name, 0) + event.count
    del model, optim_wrapper, data
    gc.collect()
    return found


def elastic_overhead(args, arch, device, dtype) -> list:
    """Forward + backward of the elastic backbone at a sub-network vs. its
    exported stock ``VisionTransformer``, at three sizes."""
    from mmpretrain.registry import MODELS

    import poa_mm  # noqa: F401
    elastic = MODELS.build(dict(type='ElasticViT', arch=arch,
                                img_size=args.global_size)).to(device)
    space = elastic.search_space
    names = [n for n in space.presets if n not in ('min', 'max')]
    if len(names) < 3:  # CPU-sized supernets: smallest, middle, intact
        names = [str(space.sampling[0]),
                 str(space.sampling[len(space.sampling) // 2]),
                 str(space.intact)]
    x = torch.randn(args.overhead_batch, 3, args.global_size,
                    args.global_size, device=device)
    rows = []
    for name in names[:3]:
        spec = space.resolve(name)
        cfg, state = elastic.export_subnet(spec)
        stock = MODELS.build(cfg).to(device)
        stock.load_state_dict(state, strict=True)
        elastic.set_subnet(spec)

        def run(model):
            with autocast(device, dtype):
                out = model(x)[-1]
            out.float().sum().backward()

        times = {
            key: time_it(partial(run, model), device, 2,
                         max(args.steps // 2, 3))
            for key, model in (('elastic', elastic), ('stock', stock))
        }
        rows.append(dict(subnet=name, spec=str(spec),
                         elastic_s=times['elastic'], stock_s=times['stock'],
                         ratio=times['elastic'] / times['stock']))
        del stock
    del elastic
    gc.collect()
    return rows


def table(results: dict) -> str:
    lines = ['| supernet | step | ms/step | img/s | peak GiB | TFLOP/s | MFU '
             '| time / two-branch | memory / two-branch |',
             '|---|---|---|---|---|---|---|---|---|']
    for arch, r in results['steps'].items():
        base = r['two-branch']
        for mode, m in r.items():
            peak = m['peak_bytes']
            mem = f'{peak / 2**30:.1f}' if peak else '-'
            mem_ratio = (f'{peak / base["peak_bytes"]:.2f}'
                         if peak and base['peak_bytes'] else '-')
            lines.append(
                f'| {arch} | {mode} | {m["seconds"] * 1e3:.0f} | '
                f'{m["img_per_s"]:.1f} | {mem} | {m["tflop_per_s"]:.0f} | '
                f'{m["mfu"]:.2f} | {m["seconds"] / base["seconds"]:.2f} | '
                f'{mem_ratio} |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('gpu_step.py: no CUDA device; use --smoke on CPU')
    dtype = getattr(torch, args.dtype)
    torch.backends.cuda.matmul.allow_tf32 = True
    gemm = gemm_peak(device, dtype, args.gemm_size)
    print(f'GEMM {args.gemm_size}^3 {args.dtype}: {gemm / 1e12:.0f} TFLOP/s',
          flush=True)
    results = dict(benchmark='gpu_step', args=vars(args),
                   device=device_name(device),
                   torch=torch.__version__, gemm_flop_per_s=gemm, steps={},
                   flop_bound={}, attention_kernels={}, elastic_overhead={})
    batch = args.batch_size
    for arch in args.archs:
        args.batch_size = batch or DEFAULT_BATCH.get(arch, 32)
        results['steps'][arch] = {}
        levers = LEVER_MODES if arch in (args.lever_archs or []) else ()
        for mode in MODES + levers:
            r = measure_mode(args, arch, mode, device, gemm)
            results['steps'][arch][mode] = r
            print(f'{arch:>6} {mode:>10}: {r["seconds"] * 1e3:8.1f} ms, '
                  f'{r["img_per_s"]:7.1f} img/s, MFU {r["mfu"]:.2f}',
                  flush=True)
        steps = results['steps'][arch]
        results['flop_bound'][arch] = (
            steps['poa']['backbone_tflop_per_step'] /
            steps['two-branch']['backbone_tflop_per_step'])
    args.batch_size = batch or DEFAULT_BATCH.get(args.archs[-1], 32)
    results['attention_kernels'] = attention_kernels(
        args, args.archs[-1], device)
    print('attention kernels:', json.dumps(results['attention_kernels']),
          flush=True)
    results['elastic_overhead'] = elastic_overhead(
        args, args.archs[-1], device, dtype)
    for row in results['elastic_overhead']:
        print(f'elastic / stock at {row["subnet"]}: {row["ratio"]:.3f}')
    print(table(results))
    write_json(args.out, results)
    return results


if __name__ == '__main__':
    main()

"""Where the elastic overhead goes: ``torch.profiler`` of one forward +
backward of an elastic ViT at a sub-network and of its exported stock
``VisionTransformer``, per operator (self time, calls), the ops the elastic
model runs that the stock one does not, and the totals; the same for the
intact network with full-size slices as views (``common.full_size_views``,
the behaviour before 0.3) and without. JSON out, a table printed.

    python benchmarks/profile_elastic.py [--arch large] [--subnet vit-s] \
        [--batch 4] [--device cpu|cuda] [--out benchmarks/results/...json]
"""
import argparse
from contextlib import nullcontext
from functools import partial

import torch

from common import device_name, full_size_views, sync, time_it, write_json


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--arch', default='large')
    p.add_argument('--subnet', default='vit-s')
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--top', type=int, default=12)
    p.add_argument('--device', default='cpu')
    p.add_argument('--out',
                   default='benchmarks/results/profile_elastic.json')
    return p.parse_args(argv)


def fwd_bwd(model, x):
    model(x)[-1].float().sum().backward()


def op_table(model, x, device) -> dict:
    """{op: (self seconds, calls)} of one forward + backward."""
    from torch.profiler import ProfilerActivity, profile
    fwd_bwd(model, x)  # warm-up outside the trace
    model.zero_grad(set_to_none=True)
    activities = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        fwd_bwd(model, x)
        sync(device)
    attr = ('self_device_time_total' if device.type == 'cuda' else
            'self_cpu_time_total')
    return {e.key: (getattr(e, attr) / 1e6, e.count)
            for e in prof.key_averages()}


def compare(name, elastic_fn, stock_fn, elastic_ops, stock_ops, device,
            reps, top) -> dict:
    t_elastic = time_it(elastic_fn, device, 1, reps)
    t_stock = time_it(stock_fn, device, 1, reps)
    extra = sorted(
        ((op, e[0] - stock_ops.get(op, (0., 0))[0],
          e[1] - stock_ops.get(op, (0., 0))[1])
         for op, e in elastic_ops.items()),
        key=lambda r: -r[1])[:top]
    row = dict(case=name, elastic_s=t_elastic, stock_s=t_stock,
               ratio=t_elastic / t_stock,
               elastic_calls=sum(c for _, c in elastic_ops.values()),
               stock_calls=sum(c for _, c in stock_ops.values()),
               extra_ops=[dict(op=o, extra_self_s=s, extra_calls=c)
                          for o, s, c in extra])
    print(f'\n{name}: elastic {t_elastic * 1e3:.1f} ms, stock '
          f'{t_stock * 1e3:.1f} ms, ratio {row["ratio"]:.3f}; profiled op '
          f'calls {row["elastic_calls"]} vs {row["stock_calls"]}')
    print('| op | extra self time (ms) | extra calls |\n|---|---|---|')
    for r in row['extra_ops']:
        print(f'| {r["op"]} | {r["extra_self_s"] * 1e3:.2f} | '
              f'{r["extra_calls"]} |')
    return row


def main(argv=None):
    args = parse_args(argv)
    from mmpretrain.registry import MODELS

    import poa_mm  # noqa: F401
    device = torch.device(args.device)
    torch.manual_seed(0)
    elastic = MODELS.build(dict(type='ElasticViT', arch=args.arch,
                                img_size=args.img_size)).to(device)
    x = torch.randn(args.batch, 3, args.img_size, args.img_size,
                    device=device)
    rows = []
    for name, spec in (('sub-network', args.subnet),
                       ('intact', elastic.search_space.intact)):
        spec = elastic.set_subnet(spec)
        cfg, state = elastic.export_subnet(spec)
        stock = MODELS.build(cfg).to(device)
        stock.load_state_dict(state, strict=True)
        stock_ops = op_table(stock, x, device)
        stock_fn = partial(fwd_bwd, stock, x)
        for shortcut in (True, False):
            with nullcontext() if shortcut else full_size_views():
                label = f'{name} {spec}' + ('' if shortcut else
                                            ', full-size slices as views')
                rows.append(compare(label, partial(fwd_bwd, elastic, x),
                                    stock_fn, op_table(elastic, x, device),
                                    stock_ops, device, args.reps, args.top))
        del stock
    write_json(args.out, dict(benchmark='profile_elastic', args=vars(args),
                              device=device_name(device),
                              torch=torch.__version__, rows=rows))
    return rows


if __name__ == '__main__':
    main()

"""Elastic overhead: an elastic backbone at a sub-network vs. the standard
backbone of the exported arch (mmpretrain VisionTransformer /
SwinTransformer / ResNet or POAStaticResNet), forward + backward, both
measured in this run. Target ratio <= 1.10.

    python benchmarks/elastic_overhead.py [--device cuda --dtype bfloat16]
    python benchmarks/elastic_overhead.py --supernets vit-base swin-base
"""
import argparse

import torch
from mmpretrain.registry import MODELS

from common import device_name, time_it, write_json

import poa_mm  # noqa: F401

SUPERNETS = {
    'vit-base': (dict(type='ElasticViT', arch='base'),
                 ['384x12', '576x8', '768x12']),
    'vit-large': (dict(type='ElasticViT', arch='large'),
                  ['384x12', '768x12', '640x16']),
    'swin-base': (dict(type='ElasticSwin', arch='base'),
                  ['swin-t', '112x12', 'swin-b']),
    'resnet-paper': (dict(type='ElasticResNet', arch='paper'),
                     ['r50', '96-6-20', 'r152']),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--supernets', nargs='+', default=list(SUPERNETS),
                   choices=list(SUPERNETS))
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available()
                   else 'cpu')
    p.add_argument('--dtype', default='float32',
                   choices=['float32', 'bfloat16'],
                   help='autocast dtype (bfloat16 on GPU)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--out', default='benchmarks/results/elastic_overhead.json')
    return p.parse_args()


def fwd_bwd(model, images, dtype):
    def step():
        with torch.autocast(images.device.type, dtype=dtype,
                            enabled=dtype != torch.float32):
            out = model(images)[0]
        out.float().sum().backward()
    return step


def main():
    args = parse_args()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    images = torch.randn(args.batch_size, 3, args.img_size, args.img_size,
                         device=device)
    rows = []
    for arch in args.supernets:
        backbone_cfg, subnets = SUPERNETS[arch]
        elastic = MODELS.build(backbone_cfg).to(device)
        for name in subnets:
            spec = elastic.set_subnet(name)
            cfg, state = elastic.export_subnet(spec)
            stock = MODELS.build(cfg)
            stock.load_state_dict(state, strict=True)
            stock.to(device).train()
            elastic.train()
            t_stock = time_it(fwd_bwd(stock, images, dtype), device,
                              args.warmup, args.reps)
            t_elastic = time_it(fwd_bwd(elastic, images, dtype), device,
                                args.warmup, args.reps)
            row = dict(supernet=arch, subnet=str(spec),
                       stock_s=t_stock, elastic_s=t_elastic,
                       ratio=t_elastic / t_stock)
            rows.append(row)
            print(f'{arch:>12} {str(spec):>8}: stock {t_stock * 1e3:8.1f} ms'
                  f'  elastic {t_elastic * 1e3:8.1f} ms'
                  f'  ratio {row["ratio"]:.3f}')
            del stock
            elastic.zero_grad(set_to_none=True)
        del elastic
    write_json(args.out, dict(
        benchmark='elastic_overhead', device=device_name(device),
        dtype=args.dtype, batch_size=args.batch_size,
        img_size=args.img_size, rows=rows))


if __name__ == '__main__':
    main()

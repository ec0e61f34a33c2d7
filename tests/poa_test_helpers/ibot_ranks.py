"""For tests: POA's loss terms on one rank's share of a global batch."""
import json
import os

import torch
import torch.distributed as dist

from poa_mm.datasets import mask_patch_weights


def rank_share(inputs: dict, rank: int, world: int) -> dict:
    """The crops and masks of this rank's images (crop-major layout)."""
    n_global = 2
    n_images = inputs['global_crops'].shape[0] // n_global
    n_local = inputs['local_crops'].shape[0] // n_images
    per_rank = n_images // world
    mine = torch.arange(rank * per_rank, (rank + 1) * per_rank)

    def rows(n_crops):
        return torch.cat([c * n_images + mine for c in range(n_crops)])

    masks = inputs['masks'][rows(n_global)]
    return dict(global_crops=inputs['global_crops'][rows(n_global)],
                local_crops=inputs['local_crops'][rows(n_local)],
                masks=masks, mask_weights=mask_patch_weights(masks.flatten(1)))


def losses_of(model, inputs: dict) -> dict:
    return {k: float(v) for k, v in model.loss(inputs).items()}


def run_rank(rank: int, world: int, port: int, build, inputs: dict,
             out_dir: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        losses = losses_of(build(), rank_share(inputs, rank, world))
        with open(os.path.join(out_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(losses, f)
    finally:
        dist.destroy_process_group()

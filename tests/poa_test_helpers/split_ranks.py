"""For tests: one optimizer step of POA, joint or split backward, on one
rank of a gloo group; the parameter updates are written per rank."""
import os

import torch
import torch.distributed as dist
from mmengine.logging import MessageHub
from mmpretrain.registry import MODELS, OPTIM_WRAPPERS

from poa_mm.elastic import SubnetSpec


def build(cfg: dict, split: bool, spec: SubnetSpec):
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, split_backward=split))
    model.init_weights()
    model.train()
    model.elastic_subnet = spec
    model.set_schedule(teacher_temp=0.07, ibot_active=True)
    return model


def sgd_step(model, forward, data) -> dict:
    """Parameter changes of one SGD(lr=1) step: minus the gradients."""
    params = [p for p in model.parameters() if p.requires_grad]
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='POAOptimWrapper', max_grad_norm=None,
        optimizer=torch.optim.SGD(params, lr=1.)))
    MessageHub.get_current_instance().update_info('iter', 0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()
              if p.requires_grad}
    forward.train_step(data, wrapper)
    return {n: (p.detach() - before[n]) for n, p in model.named_parameters()
            if n in before}


def run_rank(rank: int, world: int, port: int, cfg: dict, data: list,
             specs: list, out_dir: str) -> None:
    import poa_mm  # noqa: F401
    from poa_mm.engine import POADistributedDataParallel
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        updates = {}
        for split in (False, True):
            model = build(cfg, split, specs[rank])
            ddp = POADistributedDataParallel(
                model, find_unused_parameters=True, broadcast_buffers=False)
            updates[split] = sgd_step(model, ddp, data[rank])
        refused = False
        try:
            POADistributedDataParallel(build(cfg, True, specs[rank]),
                                       find_unused_parameters=False)
        except ValueError:
            refused = True
        torch.save(dict(joint=updates[False], split=updates[True],
                        refused=refused),
                   os.path.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()

"""For tests, run as ``python -m poa_test_helpers.step_numerics CONFIG`` from
tests/: one POA loss + backward of the demo config's
model on seeded inputs; prints a digest of the loss and every gradient, so
that runs under different CPU settings can be compared bit for bit."""
import hashlib
import sys

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.elastic import SubnetSpec
from poa_test_helpers.crops import random_crops


def step_digest(config: str) -> str:
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    model.elastic_subnet = SubnetSpec(96, (4, ))
    model.set_schedule(teacher_temp=0.07, ibot_active=True)
    data = model.data_preprocessor(random_crops(n_images=8), True)
    loss = sum(model.loss(**data).values())
    loss.backward()
    digest = hashlib.sha256(loss.detach().numpy().tobytes())
    for _, p in sorted(model.named_parameters()):
        if p.grad is not None:
            digest.update(p.grad.numpy().tobytes())
    return digest.hexdigest()


if __name__ == '__main__':
    print(step_digest(sys.argv[1]))

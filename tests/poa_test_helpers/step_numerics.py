"""For tests, run as a script: one POA loss + backward of the demo config's
model on seeded inputs; prints a digest of the loss and every gradient, so
that runs under different CPU settings can be compared bit for bit."""
import hashlib
import sys

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.elastic import SubnetSpec


def step_digest(config: str) -> str:
    cfg = Config.fromfile(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    model.elastic_subnet = SubnetSpec(96, (4, ))
    g = torch.Generator().manual_seed(0)
    views = [torch.randint(0, 256, (8, 3, size, size), generator=g,
                           dtype=torch.uint8) for size in (28, 28, 12, 12)]
    data = model.data_preprocessor(dict(inputs=views, data_samples=None),
                                   True)
    loss = sum(model.loss(**data).values())
    loss.backward()
    digest = hashlib.sha256(loss.detach().numpy().tobytes())
    for _, p in sorted(model.named_parameters()):
        if p.grad is not None:
            digest.update(p.grad.numpy().tobytes())
    return digest.hexdigest()


if __name__ == '__main__':
    print(step_digest(sys.argv[1]))

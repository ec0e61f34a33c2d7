"""Shared by the elastic-backbone tests: random weights everywhere, and
the exported standard backbone checked against the elastic sub-network."""
import torch
from mmpretrain.registry import MODELS

from poa_mm.apis.extract import meta_model
from poa_mm.elastic.base import ElasticBackboneMixin

TOL = 1e-5  # fp32, max abs diff (DESIGN)
SCALES = ('norm', 'ln', '.gn', 'gamma')  # multiplicative: around 1


def elastic_families():
    """Every elastic backbone class in MMPretrain's registry, by name."""
    return sorted(
        (name, cls) for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and issubclass(cls, ElasticBackboneMixin)
        and 'small_supernet' in vars(cls))


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    """Random weights in every parameter (scales near 1, the rest at a
    fan-in scale), so that every block and every slice matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.ndim == 1 and name.endswith('weight') and any(
                    k in name for k in SCALES):
                p.copy_(1 + 0.2 * noise)
            elif p.ndim == 1:
                p.copy_(0.1 * noise)
            else:
                p.copy_(noise * (1 / p[0].numel())**0.5)


def build_stock(cfg: dict, state: dict) -> torch.nn.Module:
    """The stock backbone of ``cfg`` holding ``state`` (strict): built on
    the meta device (:func:`meta_model`) and given the tensors of
    ``state``, which skips the random init (a third of a ViT-L check);
    built on the CPU where that cannot work (an ``__init__`` that reads a
    tensor's value, a buffer that is not in ``state``)."""
    model = meta_model(cfg, 'the exported config')
    if model is not None:
        model.load_state_dict(state, strict=True, assign=True)
    if model is None or any(
            t.is_meta for t in (*model.parameters(), *model.buffers())):
        model = MODELS.build(cfg)
        model.load_state_dict(state, strict=True)
    model.eval()  # mmpretrain backbones' train() returns None
    return model


def assert_export_exact(elastic, spec, images, **export_kwargs):
    """Export ``spec`` and check the standard backbone's outputs against the
    elastic model's with the same output arguments, on the images' device;
    returns the stock outputs and config."""
    spec = elastic.set_subnet(spec)
    cfg, state = elastic.export_subnet(spec, **export_kwargs)
    stock = build_stock(cfg, state).to(images.device)
    for key, value in export_kwargs.items():
        setattr(elastic, key, list(value) if key == 'out_indices' and
                isinstance(getattr(elastic, key), list) else value)
    with torch.no_grad():
        expected, got = elastic(images), stock(images)
    assert len(got) == len(expected)
    for e, o in zip(expected, got):
        assert e.shape == o.shape, (str(spec), e.shape, o.shape)
        diff = (e - o).abs().max().item()
        assert diff <= TOL, f'{spec}: max abs diff {diff:.2e} > {TOL}'
    return got, cfg


def masked_tokens(model, spec, image_size: int, mask: torch.Tensor):
    """``forward_tokens`` of ``spec`` on two random images, without and with
    ``mask`` (which covers only the first image): the second image's CLS
    token must not change, the first's must. Returns the unmasked (CLS,
    patch tokens)."""
    x = torch.randn(2, 3, image_size, image_size)
    grid = tuple(mask.shape[1:])
    with torch.no_grad(), model.subnet(spec):
        cls, patch = model.forward_tokens(x, grid=grid)
        cls_m, _ = model.forward_tokens(x, mask, grid=grid)
    assert torch.equal(cls[1], cls_m[1]) and not torch.equal(cls[0], cls_m[0])
    return cls, patch

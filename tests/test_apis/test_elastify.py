"""Elastify: the intact network of the imported supernet computes exactly
the source ViT, for each source format (random source models, no
downloads)."""
import pytest
import timm
import torch
from mmpretrain.registry import MODELS

import poa_mm  # noqa: F401
from poa_mm.apis.elastify import elastify

CONFIG = 'configs/poa/poa_vit-tiny_1xb32-500i_fashion-mnist.py'
TOL = 1e-5


def randomise(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.05 * torch.randn(p.shape, generator=g) +
                    (1. if p.ndim == 1 and p.shape[0] == 192 else 0.))


def intact_cls(ckpt, images):
    cfg = dict(type='ElasticViT', arch='tiny', layer_scale_init_value=1.0)
    vit = MODELS.build(cfg)
    prefix = 'teacher.backbone.'
    vit.load_state_dict({k[len(prefix):]: v
                         for k, v in ckpt['state_dict'].items()
                         if k.startswith(prefix)}, strict=True)
    vit.eval()
    student = {k: v for k, v in ckpt['state_dict'].items()
               if k.startswith('backbone.')}
    assert all(torch.equal(v, ckpt['state_dict'][f'teacher.{k}'])
               for k, v in student.items())  # student = teacher
    with torch.no_grad():
        return vit.forward_tokens(images)[0]


def test_mmpretrain_source(tmp_path, repo_root):
    src = MODELS.build(dict(
        type='mmpretrain.VisionTransformer',
        arch=dict(embed_dims=192, num_layers=6, num_heads=6,
                  feedforward_channels=768),
        img_size=28, patch_size=4, layer_scale_init_value=0.1,
        norm_cfg=dict(type='LN', eps=1e-6), out_type='cls_token'))
    randomise(src)
    src.eval()
    path = tmp_path / 'src.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v
                                for k, v in src.state_dict().items()}), path)
    ckpt = elastify(str(path), 'mmpretrain', f'{repo_root}/{CONFIG}')
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        expected = src(x)[0]
    assert (intact_cls(ckpt, x) - expected).abs().max() <= TOL
    assert ckpt['poa_mm']['backbone_cfg']['type'] == 'ElasticViT'


@pytest.mark.parametrize('fmt', ['timm', 'dinov2'])
def test_timm_and_dinov2_sources(tmp_path, repo_root, fmt):
    from safetensors.torch import save_file
    src = timm.create_model('vit_base_patch16_224', pretrained=False,
                            img_size=28, patch_size=4, embed_dim=192,
                            depth=6, num_heads=6, init_values=0.1,
                            num_classes=0, global_pool='token')
    randomise(src)
    src.eval()
    state = dict(src.state_dict())
    if fmt == 'dinov2':  # DINOv2's release adds a (1, D) mask token
        state['mask_token'] = torch.zeros(1, 192)
    path = tmp_path / 'src.safetensors'
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    ckpt = elastify(str(path), fmt, f'{repo_root}/{CONFIG}')
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        expected = src(x)
    assert (intact_cls(ckpt, x) - expected).abs().max() <= TOL


def test_refusals(tmp_path, repo_root):
    from safetensors.torch import save_file
    src = timm.create_model('vit_base_patch16_224', pretrained=False,
                            img_size=28, patch_size=4, embed_dim=192,
                            depth=6, num_heads=6, reg_tokens=4,
                            num_classes=0)
    path = tmp_path / 'reg.safetensors'
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, path)
    with pytest.raises(ValueError, match='register tokens'):
        elastify(str(path), 'timm', f'{repo_root}/{CONFIG}')
    narrow = timm.create_model('vit_base_patch16_224', pretrained=False,
                               img_size=28, patch_size=4, embed_dim=96,
                               depth=6, num_heads=3, num_classes=0)
    path = tmp_path / 'narrow.safetensors'
    save_file({k: v.contiguous() for k, v in narrow.state_dict().items()},
              path)
    with pytest.raises(ValueError, match='does not fit'):
        elastify(str(path), 'timm', f'{repo_root}/{CONFIG}')


def test_position_embedding_of_another_grid_is_resized(tmp_path, repo_root):
    from safetensors.torch import save_file
    src = timm.create_model('vit_base_patch16_224', pretrained=False,
                            img_size=36, patch_size=4, embed_dim=192,
                            depth=6, num_heads=6, init_values=0.1,
                            num_classes=0)  # a 9x9 grid, ours is 7x7
    path = tmp_path / 'grid.safetensors'
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, path)
    ckpt = elastify(str(path), 'dinov2', f'{repo_root}/{CONFIG}')
    assert ckpt['state_dict']['backbone.pos_embed'].shape == (1, 50, 192)


# ------------------------------------------------------ importance order
def stock_vit(seed=0, layer_scale=0.1):
    vit = MODELS.build(dict(
        type='mmpretrain.VisionTransformer',
        arch=dict(embed_dims=192, num_layers=6, num_heads=6,
                  feedforward_channels=768),
        img_size=28, patch_size=4, layer_scale_init_value=layer_scale,
        norm_cfg=dict(type='LN', eps=1e-6), out_type='raw'))
    randomise(vit, seed)
    vit.eval()
    return vit


def test_permutations_preserve_the_function():
    """Random head and FFN orders: every token unchanged; a random channel
    order: every token permuted the same way (1e-5)."""
    from poa_mm.elastic.vit_reorder import ViTOrder, permute_vit_state_dict
    src = stock_vit()
    g = torch.Generator().manual_seed(3)
    order = ViTOrder(torch.randperm(192, generator=g),
                     [torch.randperm(6, generator=g) for _ in range(6)],
                     [torch.randperm(768, generator=g) for _ in range(6)])
    moved = stock_vit(seed=1)
    moved.load_state_dict(permute_vit_state_dict(src.state_dict(), order, 32))
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        expected, got = src(x)[0], moved(x)[0]
    assert (got - expected[..., order.channels]).abs().max() <= TOL
    assert not torch.allclose(got, expected, atol=1e-3)
    same_channels = order._replace(channels=torch.arange(192))
    moved.load_state_dict(
        permute_vit_state_dict(src.state_dict(), same_channels, 32))
    with torch.no_grad():
        assert (moved(x)[0] - expected).abs().max() <= TOL


def test_reorder_puts_the_most_important_first(tmp_path, repo_root,
                                               fashion_mnist):
    src = stock_vit(layer_scale=1.0)
    path = tmp_path / 'src.pth'
    torch.save(src.state_dict(), path)
    folder = f'{fashion_mnist}/train'
    ckpt = elastify(str(path), 'mmpretrain', f'{repo_root}/{CONFIG}',
                    reorder_folder=folder, batches=2, reorder_channels=True)
    order = torch.tensor(ckpt['meta']['channel_order'])
    assert ckpt['meta']['reordered'] and sorted(order.tolist()) == list(
        range(192))
    assert not torch.equal(order, torch.arange(192))
    # The intact network is the source, its features in the new order.
    src.out_type = 'cls_token'
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        expected = src(x)[0]
    assert (intact_cls(ckpt, x) - expected[:, order]).abs().max() <= TOL

    # Scored again, the reordered network's importances are descending.
    from mmengine.config import Config

    from poa_mm.apis.elastify import importance_scores
    model = MODELS.build(Config.fromfile(f'{repo_root}/{CONFIG}').model)
    model.load_state_dict(ckpt['state_dict'])
    again = importance_scores(model, folder, batches=2)
    for scores in [again['channels'], *again['heads'], *again['ffn']]:
        steps = scores[1:] - scores[:-1]
        assert steps.max() <= 1e-5 * scores.abs().max(), steps.max()


def test_default_reorder_keeps_the_channels(tmp_path, repo_root,
                                            fashion_mnist):
    """Heads and FFN units only: the intact network is the source, output
    features in the source's order."""
    src = stock_vit(layer_scale=1.0)
    path = tmp_path / 'src.pth'
    torch.save(src.state_dict(), path)
    ckpt = elastify(str(path), 'mmpretrain', f'{repo_root}/{CONFIG}',
                    reorder_folder=f'{fashion_mnist}/train', batches=1)
    assert ckpt['meta']['channel_order'] == list(range(192))
    plain = elastify(str(path), 'mmpretrain', f'{repo_root}/{CONFIG}')
    qkv = 'backbone.layers.0.attn.qkv.weight'
    assert not torch.equal(ckpt['state_dict'][qkv], plain['state_dict'][qkv])
    src.out_type = 'cls_token'
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        expected = src(x)[0]
    assert (intact_cls(ckpt, x) - expected).abs().max() <= TOL


@pytest.mark.parametrize('kind, message', [
    ('int64', 'torch.int64, not floating-point'),
    ('bool', 'torch.bool, not floating-point'),
    ('nan', 'holds NaN or Inf'),
    ('garbage', 'not a readable safetensors file')])
def test_non_float_non_finite_or_garbage_sources_are_refused(
        tmp_path, repo_root, kind, message):
    from safetensors.torch import save_file
    src = timm.create_model('vit_base_patch16_224', pretrained=False,
                            img_size=28, patch_size=4, embed_dim=192,
                            depth=6, num_heads=6, init_values=0.1,
                            num_classes=0, global_pool='token')
    state = {k: v.contiguous() for k, v in src.state_dict().items()}
    if kind == 'int64':
        state = {k: v.long() for k, v in state.items()}
    elif kind == 'bool':
        state = {k: v > 0 for k, v in state.items()}
    elif kind == 'nan':
        state['blocks.0.attn.qkv.weight'][0, 0] = float('nan')
    path = tmp_path / 'src.safetensors'
    if kind == 'garbage':
        path.write_bytes(b'\xff' * 64)
    else:
        save_file(state, path)
    with pytest.raises(ValueError, match=message):
        elastify(str(path), 'timm', f'{repo_root}/{CONFIG}')

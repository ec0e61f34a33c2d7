import numpy as np
import torch

from poa_mm.datasets import BlockMaskGenerator, batch_masks, mask_patch_weights


def test_block_mask_respects_the_budget_and_uses_blocks():
    gen = BlockMaskGenerator((14, 14))
    rng = np.random.default_rng(0)
    for target in (10, 40, 98):
        mask = gen(target, rng)
        assert mask.shape == (14, 14) and mask.dtype == bool
        assert 0 < mask.sum() <= target
    assert gen(0, rng).sum() == 0


def test_batch_masks_stratified_ratios_and_unmasked_rest():
    gen = BlockMaskGenerator((14, 14))
    rng = np.random.default_rng(1)
    masks = batch_masks(gen, 16, (0.1, 0.5), 0.5, rng)
    assert masks.shape == (16, 196) and masks.dtype == torch.bool
    counts = masks.sum(dim=1)
    assert (counts == 0).sum() >= 8  # int(16 * 0.5) crops are masked
    ratios = sorted((counts[counts > 0].float() / 196).tolist())
    # one draw per equal bin of [0.1, 0.5]: never above the bin's top
    bins = np.linspace(0.1, 0.5, 9)
    assert all(r <= hi + 1e-9 for r, hi in zip(ratios, bins[1:]))
    assert ratios[-1] > 0.25


def test_same_seed_same_masks():
    gen = BlockMaskGenerator((7, 7))
    a = batch_masks(gen, 8, (0.1, 0.5), 0.5, np.random.default_rng(3))
    b = batch_masks(gen, 8, (0.1, 0.5), 0.5, np.random.default_rng(3))
    assert torch.equal(a, b)
    w = mask_patch_weights(a)
    assert w.shape == (int(a.sum()), )
    assert torch.allclose(w.sum(), (a.sum(1) > 0).sum().float())

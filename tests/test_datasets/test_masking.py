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


def _reach_rates(grid, ratio_range, n=2000, seed=0):
    gen = BlockMaskGenerator(grid)
    rng = np.random.default_rng(seed)
    reached = empty = 0
    for _ in range(n):
        target = int(gen.num_patches * rng.uniform(*ratio_range))
        count = int(gen(target, rng).sum())
        reached += count == target
        empty += target > 0 and count == 0
    return reached / n, empty


def test_block_masks_reach_their_size_on_small_and_large_grids():
    # The area draw is capped by the remaining budget (the official
    # poa/data/masking.py); an uncapped draw reaches only 17 % on 7x7 and
    # 86-93 % on 14x14.
    for grid in ((14, 14), (7, 7)):
        for ratio_range in ((0.1, 0.5), (0.1, 0.3)):
            rate, empty = _reach_rates(grid, ratio_range)
            assert rate >= 0.99, (grid, ratio_range, rate)
            assert empty == 0, (grid, ratio_range, empty)

"""Block-wise masks for iBOT, with stratified mask ratios over a batch."""
import math
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor


class BlockMaskGenerator:
    """Random rectangular blocks on a patch grid (BEiT/DINOv2 style).

    Args:
        grid (tuple[int, int]): The patch grid (h, w).
        min_patches_per_block (int): Defaults to 4.
        max_patches_per_block (int, optional): Defaults to None: half of the
            grid.
        min_aspect (float): Defaults to 0.3; the max is its inverse.
        max_failed_blocks (int): How many blocks may fail their 10 draws
            before the mask is returned short. 1 is DINOv2's generator
            (about 93 % of masks reach their size on 14x14 and 7x7 grids);
            the default reaches it in all of 2000 draws per grid.
            Defaults to 10.
    """

    def __init__(self,
                 grid: Tuple[int, int],
                 min_patches_per_block: int = 4,
                 max_patches_per_block: Optional[int] = None,
                 min_aspect: float = 0.3,
                 max_failed_blocks: int = 10):
        self.height, self.width = grid
        self.grid = (self.height, self.width)
        self.num_patches = self.height * self.width
        self.min_block = min_patches_per_block
        self.max_block = max_patches_per_block or int(0.5 * self.num_patches)
        self.log_aspect = (math.log(min_aspect), math.log(1 / min_aspect))
        self.max_failed_blocks = max_failed_blocks

    def _add_block(self, mask: np.ndarray, budget: int,
                   rng: np.random.Generator) -> int:
        # The area draw is capped by the remaining budget (official POA /
        # DINOv2): without the cap, blocks overshoot and masks stop short.
        max_area = min(budget, self.max_block)
        for _ in range(10):
            # Like Python's random.uniform: the bounds may be in any order.
            area = self.min_block + (max_area - self.min_block) * rng.random()
            aspect = math.exp(rng.uniform(*self.log_aspect))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if w < self.width and h < self.height:
                top = int(rng.integers(0, self.height - h + 1))
                left = int(rng.integers(0, self.width - w + 1))
                region = mask[top:top + h, left:left + w]
                new = h * w - int(region.sum())
                if 0 < new <= budget:
                    region[...] = True
                    return new
        return 0

    def __call__(self, num_masked: int,
                 rng: np.random.Generator) -> np.ndarray:
        """A boolean (h, w) mask with at most ``num_masked`` patches set
        (exactly ``num_masked`` in nearly every draw)."""
        mask = np.zeros((self.height, self.width), dtype=bool)
        count = failed = 0
        while count < num_masked and failed < self.max_failed_blocks:
            added = self._add_block(mask, num_masked - count, rng)
            failed += added == 0
            count += added
        return mask


def batch_masks(generator: BlockMaskGenerator, n_crops: int,
                ratio_range: Tuple[float, float], mask_probability: float,
                rng: np.random.Generator) -> Tensor:
    """Masks of a batch of global crops, (n_crops, h*w) booleans.

    ``int(n_crops * mask_probability)`` crops are masked; their ratios are
    stratified (one uniform draw in each of as many equal bins of
    ``ratio_range``), the masks are shuffled and the other crops unmasked.
    """
    n_masked = int(n_crops * mask_probability)
    bounds = np.linspace(*ratio_range, n_masked + 1)
    masks = [
        generator(int(generator.num_patches * rng.uniform(lo, hi)), rng)
        for lo, hi in zip(bounds[:-1], bounds[1:])
    ]
    masks += [np.zeros((generator.height, generator.width), bool)
              ] * (n_crops - n_masked)
    order = rng.permutation(n_crops)
    stacked = np.stack([masks[i] for i in order]).reshape(n_crops, -1)
    return torch.from_numpy(stacked)


def mask_patch_weights(masks: Tensor) -> Tensor:
    """``1 / |M_i|`` for every masked patch, in ``masks.nonzero`` order."""
    per_crop = 1. / masks.sum(dim=-1).clamp(min=1).float()
    return per_crop[:, None].expand_as(masks)[masks]

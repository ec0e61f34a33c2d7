"""Batches POA's multi-crop views and draws the iBOT masks."""
from typing import Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.logging import MessageHub
from mmengine.model import BaseDataPreprocessor
from mmpretrain.registry import MODELS

from .masking import BlockMaskGenerator, batch_masks, mask_patch_weights
from .transforms import NUM_GLOBAL_CROPS


@MODELS.register_module()
class POADataPreprocessor(BaseDataPreprocessor):
    """Stack the views crop-major, normalise them and draw the masks.

    Produces ``inputs = dict(global_crops, local_crops, masks,
    mask_weights)``: global crops (n_global * B, C, H, W) as
    ``[crop1 of all B; crop2 of all B]``, local crops likewise, boolean
    masks (n_global * B, h, w) on the mask grid, and ``1 / |M_i|`` per
    masked patch (in ``masks.nonzero()`` order).

    The mask generator is reseeded every iteration from ``(seed, rank,
    iteration)``, so masks are reproducible and survive resuming.

    Args:
        mean (Sequence[float]): Defaults to ImageNet's.
        std (Sequence[float]): Defaults to ImageNet's.
        to_rgb (bool): Flip BGR (as ``LoadImageFromFile`` gives) to RGB.
            Defaults to True.
        mask_grid (tuple[int, int]): The mask grid. Defaults to (14, 14).
        mask_ratio_range (tuple): Defaults to (0.1, 0.5) (ViT).
        mask_probability (float): Fraction of global crops masked.
            Defaults to 0.5.
        seed (int): Defaults to 0.
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 to_rgb: bool = True,
                 mask_grid: Tuple[int, int] = (14, 14),
                 mask_ratio_range: Tuple[float, float] = (0.1, 0.5),
                 mask_probability: float = 0.5,
                 seed: int = 0):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(-1, 1, 1), False)
        self.to_rgb = to_rgb
        self.n_global = NUM_GLOBAL_CROPS
        self.mask_generator = BlockMaskGenerator(tuple(mask_grid))
        self.mask_ratio_range = tuple(mask_ratio_range)
        self.mask_probability = mask_probability
        self.seed = seed
        self._calls = 0

    def _stack(self, views) -> torch.Tensor:
        # views: list over crops of list over images -> crop-major batch.
        x = torch.cat([torch.stack(list(v)) for v in views])
        x = x.to(self.mean.device, non_blocking=True).float()
        if self.to_rgb and x.shape[1] == 3:
            x = x.flip(1)
        return (x - self.mean) / self.std

    def _mask_rng(self) -> np.random.Generator:
        hub = MessageHub.get_current_instance()
        iteration = hub.get_info('iter', None)
        if iteration is None:
            iteration = self._calls
        self._calls += 1
        return np.random.default_rng([self.seed, get_rank(), int(iteration)])

    def forward(self, data: dict, training: bool = False) -> dict:
        views = data['inputs']
        if torch.is_tensor(views):  # a plain batch (e.g. k-NN features)
            return dict(inputs=self._stack([views]),
                        data_samples=data.get('data_samples'))
        global_crops = self._stack(views[:self.n_global])
        local_crops = (self._stack(views[self.n_global:])
                       if len(views) > self.n_global else
                       global_crops.new_zeros((0, ) + global_crops.shape[1:]))
        masks = batch_masks(self.mask_generator, global_crops.shape[0],
                            self.mask_ratio_range, self.mask_probability,
                            self._mask_rng())
        masks = masks.to(global_crops.device)
        inputs = dict(
            global_crops=global_crops,
            local_crops=local_crops,
            masks=masks.view(-1, *self.mask_generator.grid),
            mask_weights=mask_patch_weights(masks))
        return dict(inputs=inputs, data_samples=data.get('data_samples'))

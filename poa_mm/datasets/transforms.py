"""POA's multi-crop augmentation (DINOv2's), as an MMPretrain transform."""
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from PIL import Image
from torchvision import transforms as T


@TRANSFORMS.register_module()
class POAMultiCrop(BaseTransform):
    """2 global + N local crops with DINOv2's augmentations.

    Each view: RandomResizedCrop (bicubic), horizontal flip, colour jitter
    (0.4, 0.4, 0.2, 0.1) with p=0.8, grayscale p=0.2, Gaussian blur; the
    second global crop is also solarized with p=0.2. The default blur
    probabilities are the *effective* ones of the official code (global 1:
    0.0, global 2: 0.9, local: 0.5); the paper lists the nominal
    1.0 / 0.1 / 0.5 (DINOv2's inverted ``RandomApply`` bug).

    Required keys: ``img`` (HWC uint8, RGB or BGR as loaded).
    Modified keys: ``img`` becomes a list of HWC uint8 arrays, the global
    crops first.

    Args:
        global_size (int): Defaults to 224.
        local_size (int): Defaults to 96.
        num_local_crops (int): Defaults to 8.
        global_scale (tuple): Defaults to (0.32, 1.0).
        local_scale (tuple): Defaults to (0.05, 0.32).
        blur_probs (tuple): Blur probabilities of (global 1, global 2,
            local). Defaults to (0.0, 0.9, 0.5).
        solarize_prob (float): For global crop 2. Defaults to 0.2.
    """

    def __init__(self,
                 global_size: int = 224,
                 local_size: int = 96,
                 num_local_crops: int = 8,
                 global_scale: Tuple[float, float] = (0.32, 1.0),
                 local_scale: Tuple[float, float] = (0.05, 0.32),
                 blur_probs: Sequence[float] = (0.0, 0.9, 0.5),
                 solarize_prob: float = 0.2):
        self.num_local_crops = num_local_crops
        self.settings = dict(
            global_size=global_size, local_size=local_size,
            num_local_crops=num_local_crops, global_scale=global_scale,
            local_scale=local_scale, blur_probs=tuple(blur_probs),
            solarize_prob=solarize_prob)

        def view(size, scale, blur_p, solarize_p=0.):
            return T.Compose([
                T.RandomResizedCrop(
                    size, scale=scale,
                    interpolation=T.InterpolationMode.BICUBIC),
                T.RandomHorizontalFlip(p=0.5),
                T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
                T.RandomGrayscale(p=0.2),
                T.RandomApply([T.GaussianBlur(9, sigma=(0.1, 2.0))],
                              p=blur_p),
                T.RandomSolarize(threshold=128, p=solarize_p),
            ])

        self.global1 = view(global_size, global_scale, blur_probs[0])
        self.global2 = view(global_size, global_scale, blur_probs[1],
                            solarize_prob)
        self.local = view(local_size, local_scale, blur_probs[2])

    def transform(self, results: dict) -> dict:
        img = Image.fromarray(results['img'])
        views = [self.global1(img), self.global2(img)]
        views += [self.local(img) for _ in range(self.num_local_crops)]
        results['img'] = [np.asarray(v) for v in views]
        return results

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v}' for k, v in self.settings.items())
        return f'{self.__class__.__name__}({args})'

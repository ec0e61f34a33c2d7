"""POA's multi-crop augmentation (DINOv2's), as an MMPretrain transform."""
from typing import Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from PIL import Image
from torchvision import transforms as T


# POA's (DINO's) two global crops: each student global crop is paired with
# the *other* teacher crop. The transform makes them, the data preprocessor
# and the algorithm read this constant.
NUM_GLOBAL_CROPS = 2


@TRANSFORMS.register_module()
class POAMultiCrop(BaseTransform):
    """2 global + N local crops with DINOv2's augmentations.

    Each view: RandomResizedCrop (bicubic), horizontal flip, colour jitter
    (0.4, 0.4, 0.2, 0.1) with p=0.8, grayscale p=0.2, Gaussian blur; the
    second global crop is also solarized with p=0.2. The default blur
    probabilities are the *effective* ones of the official code (global 1:
    0.0, global 2: 0.9, local: 0.5); the paper lists the nominal
    1.0 / 0.1 / 0.5 (DINOv2's inverted ``RandomApply`` bug).

    The colour transforms (jitter, grayscale, solarize) see RGB, as in the
    official code on PIL images: an image in ``channel_order`` 'bgr' (what
    ``LoadImageFromFile`` gives) is converted on the way in, and the views
    are returned in the input's channel order, so the data preprocessor's
    ``to_rgb`` works as for every other MMPretrain pipeline.

    Required keys: ``img`` (HWC uint8 in ``channel_order``).
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
        color_jitter_prob (float): Defaults to 0.8.
        grayscale_prob (float): Defaults to 0.2.
        channel_order (str): 'bgr' or 'rgb', of the input and the views.
            Defaults to 'bgr'.
    """

    def __init__(self,
                 global_size: int = 224,
                 local_size: int = 96,
                 num_local_crops: int = 8,
                 global_scale: Tuple[float, float] = (0.32, 1.0),
                 local_scale: Tuple[float, float] = (0.05, 0.32),
                 blur_probs: Sequence[float] = (0.0, 0.9, 0.5),
                 solarize_prob: float = 0.2,
                 color_jitter_prob: float = 0.8,
                 grayscale_prob: float = 0.2,
                 channel_order: str = 'bgr'):
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got "
                             f'{channel_order!r}')
        self.flip_channels = channel_order == 'bgr'
        self.num_local_crops = num_local_crops
        self.settings = dict(
            global_size=global_size, local_size=local_size,
            num_local_crops=num_local_crops, global_scale=global_scale,
            local_scale=local_scale, blur_probs=tuple(blur_probs),
            solarize_prob=solarize_prob, color_jitter_prob=color_jitter_prob,
            grayscale_prob=grayscale_prob, channel_order=channel_order)

        def view(size, scale, blur_p, solarize_p=0.):
            return T.Compose([
                T.RandomResizedCrop(
                    size, scale=scale,
                    interpolation=T.InterpolationMode.BICUBIC),
                T.RandomHorizontalFlip(p=0.5),
                T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)],
                              p=color_jitter_prob),
                T.RandomGrayscale(p=grayscale_prob),
                T.RandomApply([T.GaussianBlur(9, sigma=(0.1, 2.0))],
                              p=blur_p),
                T.RandomSolarize(threshold=128, p=solarize_p),
            ])

        self.global1 = view(global_size, global_scale, blur_probs[0])
        self.global2 = view(global_size, global_scale, blur_probs[1],
                            solarize_prob)
        self.local = view(local_size, local_scale, blur_probs[2])

    def _swap(self, img: np.ndarray) -> np.ndarray:
        if self.flip_channels and img.ndim == 3 and img.shape[2] == 3:
            return np.ascontiguousarray(img[..., ::-1])
        return img

    def transform(self, results: dict) -> dict:
        img = Image.fromarray(self._swap(results['img']))
        views = [self.global1(img), self.global2(img)]
        views += [self.local(img) for _ in range(self.num_local_crops)]
        results['img'] = [self._swap(np.asarray(v)) for v in views]
        return results

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v}' for k, v in self.settings.items())
        return f'{self.__class__.__name__}({args})'

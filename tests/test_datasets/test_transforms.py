import numpy as np
import pytest

from poa_mm.datasets import POAMultiCrop


def crops(**kwargs):
    settings = dict(global_size=16, local_size=8, num_local_crops=1,
                    global_scale=(1., 1.), local_scale=(1., 1.),
                    blur_probs=(0., 0., 0.), solarize_prob=0.,
                    color_jitter_prob=0.)
    settings.update(kwargs)
    return POAMultiCrop(**settings)


def red_bgr():
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 2] = 255  # red, in LoadImageFromFile's BGR order
    return img


def test_colour_transforms_see_rgb():
    views = crops(grayscale_prob=1.)
    out = views.transform(dict(img=red_bgr()))['img']
    assert len(out) == 3
    for v in out:
        # ITU-R 601 luma of pure red: 0.299 * 255 (pure blue would be 29).
        assert (v == 76).all()


def test_views_keep_the_input_channel_order():
    out = crops(grayscale_prob=0.).transform(dict(img=red_bgr()))['img']
    for v in out:
        assert (v[..., 2] == 255).all() and (v[..., :2] == 0).all()
    rgb = red_bgr()[..., ::-1].copy()
    out = crops(grayscale_prob=1., channel_order='rgb').transform(
        dict(img=rgb))['img']
    assert all((v == 76).all() for v in out)
    with pytest.raises(ValueError, match='channel_order'):
        crops(channel_order='hsv')

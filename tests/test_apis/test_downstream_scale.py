"""The detection and segmentation writers check the input scale against
global attention: the patch-4 tiny ViT at COCO's default scale."""
import pytest

from poa_mm.apis.downstream.common import check_attention_scale


def vit(width, heads, patch=4):
    return dict(type='mmpretrain.VisionTransformer', patch_size=patch,
                arch=dict(embed_dims=width, num_layers=3, num_heads=heads,
                          feedforward_channels=4 * width))


def test_a_scale_no_gpu_holds_is_refused_in_one_line():
    # 200 x 333 patches + the class token: 66601 tokens, 6 heads.
    with pytest.raises(ValueError) as info:
        check_attention_scale(vit(192, 6), (800, 1333), '--img-scale')
    message = str(info.value)
    assert '\n' not in message
    assert '66601 tokens' in message and '99.1 GiB' in message
    assert 'smaller --img-scale (e.g. 256 for 4k tokens)' in message


def test_a_slow_scale_warns_with_the_figure():
    warning = check_attention_scale(vit(64, 2), (800, 1333), '--img-scale')
    assert '66601 tokens' in warning and '33.0 GiB' in warning
    assert '\n' not in warning


def test_scales_that_fit_and_windowed_backbones_pass():
    assert check_attention_scale(vit(192, 6), (128, 160), '--crop-size') \
        is None
    assert check_attention_scale(vit(1024, 16, patch=16), (512, 512),
                                 '--crop-size') is None
    swin = dict(type='mmpretrain.SwinTransformer', patch_size=4)
    assert check_attention_scale(swin, (800, 1333), '--img-scale') is None


def test_crop_size_and_img_scale_take_both_sides(capsys):
    from poa_test_helpers.scripts import exit_message, load_script
    seg = load_script('tools/to_mmseg.py')
    common = ['s.pth', '--template', 'upernet', '--data-root', 'd', '--out',
              'o.py']
    assert seg.parse_args(common + ['--crop-size', '64', '96']).crop_size \
        == [64, 96]
    assert seg.parse_args(common + ['--crop-size', '64']).crop_size == \
        [64, 64]
    assert exit_message(seg.parse_args,
                        common + ['--crop-size', '1', '2', '3']) == '2'
    assert capsys.readouterr().err.splitlines()[-1].endswith(
        'error: --crop-size takes H W or one number, got [1, 2, 3]')
    det = load_script('tools/to_mmdet.py')
    common[2] = 'mask-rcnn'
    assert det.parse_args(common + ['--img-scale', '160']).img_scale == \
        [160, 160]
    assert det.parse_args(common).img_scale == [1333, 800]

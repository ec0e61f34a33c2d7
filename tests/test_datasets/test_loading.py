"""LoadCheckedImage on real files: the formats a big folder holds read as
8-bit 3-channel images (as MMPretrain's loading reads them), broken files
skipped once each, listed and counted, and too many of them stop the run;
tools/check_images.py lists them before a run."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from poa_mm.datasets.loading import (MIN_TOLERATED, UNREADABLE_LOG_ENV,
                                     CorruptImageError, LoadCheckedImage,
                                     unreadable_listed)


def load(path, **kwargs):
    return LoadCheckedImage(**kwargs).transform(dict(img_path=str(path)))


@pytest.fixture
def picture():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)


def test_grayscale_palette_16bit_rgba_and_cmyk_read_as_3_channels(
        tmp_path, picture):
    rgb = Image.fromarray(picture)
    files = {
        'gray.png': rgb.convert('L'),
        'palette.png': rgb.convert('P'),
        'rgba.png': rgb.convert('RGBA'),
        'cmyk.jpg': rgb.convert('CMYK'),
    }
    for name, image in files.items():
        image.save(tmp_path / name)
    deep = (picture[..., 0].astype(np.uint16) * 257)
    Image.fromarray(deep).save(tmp_path / 'gray16.png')
    for name in [*files, 'gray16.png']:
        img = load(tmp_path / name)['img']
        assert img.shape == (12, 16, 3) and img.dtype == np.uint8, name
    for name in ('gray.png', 'palette.png', 'rgba.png'):
        expected = np.asarray(Image.open(tmp_path / name).convert('RGB'))
        np.testing.assert_array_equal(load(tmp_path / name)['img'],
                                      expected[..., ::-1], err_msg=name)
    gray16 = load(tmp_path / 'gray16.png')['img']
    np.testing.assert_array_equal(gray16[..., 0], picture[..., 0])


def broken_files(folder, n):
    folder.mkdir(exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f'broken_{i:02d}.jpg'
        path.write_bytes(b'\xff\xd8 not really a jpeg' if i % 2 else b'')
        paths.append(path)
    return paths


@pytest.fixture
def warnings():
    """The messages MMEngine's current logger emits meanwhile."""
    import logging

    from mmengine.logging import MMLogger
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


def test_broken_files_are_skipped_once_each_then_too_many_stop(
        tmp_path, picture, monkeypatch, warnings):
    good = tmp_path / 'good.png'
    Image.fromarray(picture).save(good)
    bad = broken_files(tmp_path / 'bad', MIN_TOLERATED + 1)
    log = tmp_path / 'unreadable_images.txt'
    monkeypatch.setenv(UNREADABLE_LOG_ENV, str(log))
    loader = LoadCheckedImage(skip_corrupt=True)
    assert loader.transform(dict(img_path=str(good)))['img'].shape[2] == 3
    for path in bad[:MIN_TOLERATED]:
        assert loader.transform(dict(img_path=str(path))) is None
        assert loader.transform(dict(img_path=str(path))) is None  # again
    skipped = [m for m in warnings
               if m.startswith('skipping unreadable image')]
    assert len(skipped) == MIN_TOLERATED  # one line per file
    assert skipped[0] == f'skipping unreadable image {bad[0]}: an empty file'
    assert skipped[1].startswith(f'skipping unreadable image {bad[1]}: ')
    assert unreadable_listed() == MIN_TOLERATED
    assert log.read_text().splitlines() == [str(p)
                                            for p in bad[:MIN_TOLERATED]]
    with pytest.raises(CorruptImageError) as info:
        loader.transform(dict(img_path=str(bad[-1])))
    message = str(info.value)
    assert message.startswith(
        f'{MIN_TOLERATED + 1} of the {MIN_TOLERATED + 2} images this loader '
        'read are unreadable (more than max_unreadable=0.001)')
    assert 'tools/check_images.py' in message and '\n' not in message


def test_the_fraction_allows_more_in_a_bigger_folder(tmp_path, picture):
    good = tmp_path / 'good.png'
    Image.fromarray(picture).save(good)
    loader = LoadCheckedImage(skip_corrupt=True, max_unreadable=0.5)
    for _ in range(30):
        loader.transform(dict(img_path=str(good)))
    for path in broken_files(tmp_path / 'bad', MIN_TOLERATED + 5):
        assert loader.transform(dict(img_path=str(path))) is None
    with pytest.raises(CorruptImageError,
                       match='cannot read image .*broken_00.jpg: an empty '):
        load(tmp_path / 'bad' / 'broken_00.jpg')  # strict by default
    with pytest.raises(ValueError, match='max_unreadable must be a number'):
        LoadCheckedImage(max_unreadable=2)


def test_check_images_lists_every_unreadable_file(tmp_path, picture,
                                                  repo_root):
    folder = tmp_path / 'my images'  # a space, nested classes
    for label in ('a', 'b'):
        (folder / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(picture).save(folder / label / f'{i}.png')
    bad = broken_files(folder / 'b', 2)
    (folder / 'b' / 'notes.txt').write_text('not an image, not listed')
    out = tmp_path / 'bad.txt'

    def check(*args):
        return subprocess.run(
            [sys.executable, 'tools/check_images.py', *args], cwd=repo_root,
            capture_output=True, text=True, timeout=120,
            env=dict(os.environ, PYTHONPATH=repo_root))

    proc = check(str(folder), '--workers', '2', '--out', str(out))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split(': ')[0] for line in lines[:-1]] == [str(p)
                                                            for p in bad]
    assert lines[-1] == '2 of 8 images unreadable (25.000 %)'
    assert out.read_text().splitlines() == [str(p) for p in bad]
    assert '8/8' in proc.stderr  # the progress bar
    for path in bad:
        path.unlink()
    proc = check(str(folder), '--workers', '1')
    assert proc.returncode == 0
    assert proc.stdout.strip() == '0 of 6 images unreadable (0.000 %)'
    proc = check(str(tmp_path / 'missing'))
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: not a folder: {tmp_path / "missing"}')

"""Prepare small real detection / segmentation datasets from files that ship
inside registry packages (no dataset downloads):

* ``voc_instances/``: the labelme 6.3.1 sdist's PASCAL VOC examples with
  COCO instance polygons (20 VOC classes),
  ``annotations/instances_{train,val}.json``
  + ``images/``;
* ``trees/``: the deepforest 2.1.0 wheel's aerial images with tree boxes (VOC
  xml), cut into tiles, COCO json (boxes; masks are the box polygons);
* ``voc_semantic/``: the labelme VOC class maps in a folder layout
  ``images/{training,validation}`` + ``annotations/{training,validation}``
  (label 0 = background, 255 = ignore) and ``classes.txt``.

The packages are fetched from PyPI with pip into ``--cache`` unless given.
Every dataset is written to a temporary folder and moved into place.
"""
import argparse
import io
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
from PIL import Image

from poa_mm.cli.errors import one_line_errors

LABELME = 'labelme==6.3.1'
DEEPFOREST = 'deepforest==2.1.0'
LABELME_EXAMPLES = 'labelme-6.3.1/examples'


def fetch(requirement: str, cache: str, sdist: bool) -> str:
    """Path of the package file, downloaded with pip if not cached."""
    name, version = requirement.split('==')
    os.makedirs(cache, exist_ok=True)
    suffix = '.tar.gz' if sdist else '.whl'
    for f in os.listdir(cache):
        if f.startswith(f'{name}-{version}') and f.endswith(suffix):
            return osp.join(cache, f)
    cmd = [sys.executable, '-m', 'pip', 'download', '-q', '--no-deps',
           requirement, '-d', cache]
    cmd += ['--no-binary', ':all:'] if sdist else ['--only-binary', ':all:']
    subprocess.run(cmd, check=True)
    return fetch(requirement, cache, sdist)


def _atomic_dir(out: str, build) -> None:
    if osp.exists(osp.join(out, '.complete')):
        return
    parent = osp.dirname(osp.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.prep-', dir=parent)
    try:
        build(tmp)
        open(osp.join(tmp, '.complete'), 'w').close()
        if osp.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_coco(path, images, annotations, categories):
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=categories), f)


def voc_instances(sdist: str, out: str) -> None:
    """labelme's COCO instance example, background category dropped."""

    def build(tmp):
        with tarfile.open(sdist) as tar:
            root = f'{LABELME_EXAMPLES}/instance_segmentation/' \
                   'data_dataset_coco/'
            coco = json.load(tar.extractfile(root + 'annotations.json'))
            os.makedirs(osp.join(tmp, 'images'))
            os.makedirs(osp.join(tmp, 'annotations'))
            for img in coco['images']:
                name = osp.basename(img['file_name'])
                with open(osp.join(tmp, 'images', name), 'wb') as f:
                    f.write(tar.extractfile(root + img['file_name']).read())
                img['file_name'] = name
        cats = [c for c in coco['categories'] if c['name'] != '_background_']
        anns = [a for a in coco['annotations'] if a['category_id'] != 0]
        for split in ('train', 'val'):
            _write_coco(osp.join(tmp, 'annotations',
                                 f'instances_{split}.json'), coco['images'],
                        anns, cats)

    _atomic_dir(out, build)


def trees(wheel: str, out: str, tile: int = 200) -> None:
    """deepforest's OSBS_029 / SOAP_061 images cut into tiles."""

    def build(tmp):
        os.makedirs(osp.join(tmp, 'images'))
        os.makedirs(osp.join(tmp, 'annotations'))
        images, anns = [], []
        with zipfile.ZipFile(wheel) as zf:
            for stem in ('OSBS_029', 'SOAP_061'):
                image = Image.open(io.BytesIO(
                    zf.read(f'deepforest/data/{stem}.png'))).convert('RGB')
                boxes = [[
                    float(b.find(k).text)
                    for k in ('xmin', 'ymin', 'xmax', 'ymax')
                ] for b in ET.fromstring(zf.read(
                    f'deepforest/data/{stem}.xml')).iter('bndbox')]
                W, H = image.size
                for top in range(0, H - tile + 1, tile):
                    for left in range(0, W - tile + 1, tile):
                        img_id = len(images)
                        name = f'{stem}_{top}_{left}.png'
                        image.crop((left, top, left + tile,
                                    top + tile)).save(
                                        osp.join(tmp, 'images', name))
                        images.append(dict(id=img_id, file_name=name,
                                           width=tile, height=tile))
                        for x0, y0, x1, y1 in boxes:
                            x0, x1 = np.clip([x0 - left, x1 - left], 0, tile)
                            y0, y1 = np.clip([y0 - top, y1 - top], 0, tile)
                            if x1 - x0 < 2 or y1 - y0 < 2:
                                continue
                            anns.append(dict(
                                id=len(anns), image_id=img_id, category_id=1,
                                bbox=[x0, y0, x1 - x0, y1 - y0],
                                area=float((x1 - x0) * (y1 - y0)),
                                segmentation=[[x0, y0, x1, y0, x1, y1, x0,
                                               y1]], iscrowd=0))
        cats = [dict(id=1, name='tree')]
        for split in ('train', 'val'):
            _write_coco(osp.join(tmp, 'annotations',
                                 f'instances_{split}.json'), images, anns,
                        cats)

    _atomic_dir(out, build)


def voc_semantic(sdist: str, out: str) -> None:
    """labelme's VOC class maps (palette PNGs: index = class)."""

    def build(tmp):
        root = f'{LABELME_EXAMPLES}/semantic_segmentation/data_dataset_voc/'
        with tarfile.open(sdist) as tar:
            names = tar.extractfile(root + 'class_names.txt').read().decode()
            classes = [c for c in names.split('\n') if c.strip()]
            stems = sorted(
                osp.splitext(osp.basename(m.name))[0]
                for m in tar.getmembers()
                if m.name.startswith(root + 'SegmentationClass/')
                and m.name.endswith('.png'))
            for split in ('training', 'validation'):
                os.makedirs(osp.join(tmp, 'images', split))
                os.makedirs(osp.join(tmp, 'annotations', split))
                for stem in stems:
                    with open(osp.join(tmp, 'images', split, stem + '.jpg'),
                              'wb') as f:
                        f.write(tar.extractfile(
                            f'{root}JPEGImages/{stem}.jpg').read())
                    label = np.array(Image.open(tar.extractfile(
                        f'{root}SegmentationClass/{stem}.png')))
                    Image.fromarray(label.astype(np.uint8)).save(
                        osp.join(tmp, 'annotations', split, stem + '.png'))
        with open(osp.join(tmp, 'classes.txt'), 'w') as f:
            f.write('\n'.join(classes) + '\n')

    _atomic_dir(out, build)


@one_line_errors
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--out', default='data/downstream')
    p.add_argument('--cache', default=osp.join(
        os.environ.get('POA_MM_CACHE',
                       osp.expanduser('~/.cache/poa-mm')), 'packages'))
    p.add_argument('--labelme-sdist', help='labelme-6.3.1.tar.gz')
    p.add_argument('--deepforest-wheel', help='deepforest-2.1.0 wheel')
    args = p.parse_args(argv)
    sdist = args.labelme_sdist or fetch(LABELME, args.cache, sdist=True)
    wheel = args.deepforest_wheel or fetch(DEEPFOREST, args.cache,
                                           sdist=False)
    voc_instances(sdist, osp.join(args.out, 'voc_instances'))
    voc_semantic(sdist, osp.join(args.out, 'voc_semantic'))
    trees(wheel, osp.join(args.out, 'trees'))
    print(f'downstream data ready in {args.out}')


if __name__ == '__main__':
    main()

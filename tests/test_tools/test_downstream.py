"""extract_subnet -> to_mmdet / to_mmseg -> MMDetection's and
MMSegmentation's own tools/train.py and tools/test.py (the copies inside
the installed packages), for every backbone family, on real images from
registry packages."""
import json
import math
import os
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from poa_test_helpers.tools import FAMILIES, run, stock_tool

pytestmark = pytest.mark.slow  # subprocess runs of the tools


@pytest.fixture(scope='module')
def downstream_data(tmp_path_factory, repo_root):
    out = tmp_path_factory.mktemp('downstream')
    run(['tools/prepare_downstream_data.py', '--out', str(out)], repo_root)
    return str(out)


def extract(repo_root, ckpt, spec, out):
    run(['tools/extract_subnet.py', ckpt, '--subnet', spec, '--out', out],
        repo_root)
    return out


def assert_backbone_loads_extracted(cfg_path, subnet_ckpt, scope):
    """The downstream model's backbone, built from the generated config and
    initialised, holds exactly the extracted weights."""
    import poa_mm  # noqa: F401
    from poa_mm.apis.config_check import check_config_keys
    cfg = Config.fromfile(cfg_path)
    assert check_config_keys(cfg) is None  # no false alarm on our configs
    if scope == 'mmdet':
        from mmdet.registry import MODELS
    else:
        from mmseg.registry import MODELS
    # The scope of this build only: later tests in this worker build in
    # their own.
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    model.init_weights()
    expected = torch.load(subnet_ckpt, weights_only=True)['state_dict']
    state = model.backbone.state_dict()
    expected = {k[len('backbone.'):]: v for k, v in expected.items()}
    assert set(state) == set(expected)
    for k, v in expected.items():
        assert torch.equal(state[k], v), k


def test_extract_is_plain_deterministic_and_strict(poa_checkpoints,
                                                   repo_root, tmp_path):
    ckpt = poa_checkpoints['vit']
    before = os.stat(ckpt).st_mtime_ns
    a = extract(repo_root, ckpt, '96x4', str(tmp_path / 'a.pth'))
    b = extract(repo_root, ckpt, '96x4', str(tmp_path / 'b.pth'))
    assert os.stat(ckpt).st_mtime_ns == before  # input untouched
    sa = torch.load(a, weights_only=True)
    sb = torch.load(b, weights_only=True)
    assert sa['meta']['subnet'] == '96x4'
    assert sa['meta']['source'] == 'teacher'
    assert len(sa['meta']['source_sha256']) == 64
    assert sa['meta']['backbone_cfg']['type'] == 'mmpretrain.VisionTransformer'
    assert all(k.startswith('backbone.') for k in sa['state_dict'])
    assert sa['state_dict'].keys() == sb['state_dict'].keys()
    for k, v in sa['state_dict'].items():
        assert v.numpy().tobytes() == sb['state_dict'][k].numpy().tobytes()


def test_extract_from_student_differs_from_teacher(poa_checkpoints,
                                                   repo_root, tmp_path):
    ckpt = poa_checkpoints['vit']
    t = extract(repo_root, ckpt, 'max', str(tmp_path / 't.pth'))
    run(['tools/extract_subnet.py', ckpt, '--subnet', 'max', '--from',
         'student', '--out', str(tmp_path / 's.pth')], repo_root)
    st = torch.load(t, weights_only=True)['state_dict']
    ss = torch.load(tmp_path / 's.pth', weights_only=True)
    assert ss['meta']['source'] == 'student'
    assert any(not torch.equal(v, ss['state_dict'][k]) for k, v in st.items())


def test_bad_input_is_refused_and_leaves_nothing(poa_checkpoints, repo_root,
                                                 tmp_path, downstream_data):
    ckpt = poa_checkpoints['vit']
    out = tmp_path / 'x.pth'
    proc = run(['tools/extract_subnet.py', ckpt, '--subnet', '100x3',
                '--out', str(out)], repo_root, check=False)
    assert proc.returncode != 0 and 'valid widths' in proc.stderr
    assert not out.exists() and os.listdir(tmp_path) == []
    torch.save({'state_dict': {'w': torch.zeros(1)}}, tmp_path / 'other.pth')
    proc = run(['tools/extract_subnet.py', str(tmp_path / 'other.pth'),
                '--subnet', 'max', '--out', str(out)], repo_root,
               check=False)
    assert proc.returncode != 0 and 'not a POA' in proc.stderr
    assert not out.exists()
    extract(repo_root, ckpt, 'max', str(out))
    size = out.stat().st_size
    proc = run(['tools/extract_subnet.py', ckpt, '--subnet', 'min', '--out',
                str(out)], repo_root, check=False)
    assert proc.returncode != 0 and 'exists' in proc.stderr
    assert out.stat().st_size == size
    cfg = tmp_path / 'det.py'
    proc = run(['tools/to_mmdet.py', str(out), '--template', 'mask-rcnn',
                '--data-root', str(tmp_path / 'missing'), '--out', str(cfg)],
               repo_root, check=False)
    assert proc.returncode != 0 and 'data root not found' in proc.stderr
    proc = run(['tools/to_mmseg.py', ckpt, '--template', 'upernet',
                '--data-root', downstream_data, '--out', str(cfg)],
               repo_root, check=False)
    assert proc.returncode != 0 and 'extract_subnet' in proc.stderr
    assert not cfg.exists()


LOADERS_SERIAL = ['train_dataloader.num_workers=0',
                  'train_dataloader.persistent_workers=False',
                  'val_dataloader.num_workers=0',
                  'val_dataloader.persistent_workers=False',
                  'test_dataloader.num_workers=0',
                  'test_dataloader.persistent_workers=False']
# Each family's smallest sub-network and a middle one (ViT: the smallest
# with the four blocks dense prediction taps, 64x3 has three).
SIZES = [('resnet', 'min'), ('resnet', '32-2-3'), ('swin', 'min'),
         ('swin', '24x4'), ('vit', '64x4'), ('vit', '128x5')]


def stock_train_then_test(package, cfg, work, options, metric, resume):
    """The framework's own train.py (2 iterations), then its test.py on the
    checkpoint train.py wrote, then (``resume``) train.py --resume for one
    more iteration; asserts rc 0, finite losses, the weight check and the
    metric in both logs."""
    proc = run([stock_tool(package, 'train.py'), cfg, '--work-dir', work,
                '--cfg-options', *options])
    log = proc.stdout + proc.stderr
    assert 'Backbone weights verified' in log
    losses = [float(x) for x in re.findall(r' loss: (\S+)', log)]
    assert losses and all(math.isfinite(x) for x in losses), losses
    assert metric in log
    proc = run([stock_tool(package, 'test.py'), cfg,
                osp.join(work, 'iter_2.pth'), '--work-dir', work,
                '--cfg-options', *options])
    assert metric in proc.stdout + proc.stderr
    if resume:
        proc = run([stock_tool(package, 'train.py'), cfg, '--work-dir',
                    work, '--resume', '--cfg-options', *options,
                    'train_cfg.max_iters=3'])
        assert 'resumed epoch: 0, iter: 2' in proc.stdout + proc.stderr
        assert osp.isfile(osp.join(work, 'iter_3.pth'))


# One training image per batch and fewer regions than COCO's (2000
# proposals and 512 sampled regions in training, 1000 proposals and 100
# detections in testing): on the CPU the R-CNN box and mask heads on them,
# not the backbone, take most of the time.
DETECTION_ON_CPU = ['train_dataloader.batch_size=1',
                    'default_hooks.logger.interval=1',
                    'model.train_cfg.rpn_proposal.max_per_img=200',
                    'model.test_cfg.rpn.max_per_img=100',
                    'model.test_cfg.rcnn.max_per_img=10']
# Per task: the writer, the template for ViT and for the other families,
# the data, the size option, the extra options and the metric in the logs.
# After 2 iterations no class score passes the default 0.05: detection
# keeps all boxes so that the COCO metrics are computed, not skipped.
TASKS = dict(
    mmdet=('tools/to_mmdet.py', 'cascade-mask-rcnn', 'mask-rcnn',
           'voc_instances', ['--img-scale', '160', '128'],
           ['model.test_cfg.rcnn.score_thr=0.0', *DETECTION_ON_CPU],
           'coco/segm_mAP'),
    mmseg=('tools/to_mmseg.py', 'linear', 'upernet', 'voc_semantic',
           ['--crop-size', '64'], [], 'mIoU'))
# The sampled regions per R-CNN stage, by detection template.
ROI_SAMPLERS = {'cascade-mask-rcnn': [
    f'model.train_cfg.rcnn.{stage}.sampler.num=32' for stage in range(3)],
    'mask-rcnn': ['model.train_cfg.rcnn.sampler.num=32']}


@pytest.mark.parametrize('family,size', SIZES)
@pytest.mark.parametrize('package', list(TASKS))
def test_downstream_with_the_stock_tools(package, family, size,
                                         poa_checkpoints, downstream_data,
                                         repo_root, tmp_path):
    writer, vit_template, template, data, scale, options, metric = \
        TASKS[package]
    template = vit_template if family == 'vit' else template
    options = options + ROI_SAMPLERS.get(template, [])
    subnet = extract(repo_root, poa_checkpoints[family], size,
                     str(tmp_path / 'subnet.pth'))
    cfg = str(tmp_path / 'task.py')
    run([writer, subnet, '--template', template, '--data-root',
         osp.join(downstream_data, data), '--out', cfg, '--max-iters', '2',
         *scale], repo_root)
    assert_backbone_loads_extracted(cfg, subnet, package)
    stock_train_then_test(package, cfg, str(tmp_path / 'w'),
                          LOADERS_SERIAL + options, metric,
                          resume=size == '128x5')


def test_extract_by_budget(poa_checkpoints, repo_root, tmp_path):
    ckpt = poa_checkpoints['vit']
    out = tmp_path / 'best.pth'
    proc = run(['tools/extract_subnet.py', ckpt, '--max-params', '0.5M',
                '--out', str(out)], repo_root)
    assert proc.stdout.startswith('chosen by cost: ')
    assert 'runner-up: ' in proc.stdout
    meta = torch.load(out, weights_only=True)['meta']
    n = sum(v.numel() for v in torch.load(
        out, weights_only=True)['state_dict'].values())
    assert n <= 0.5e6 and meta['subnet'] in proc.stdout
    knn = tmp_path / 'knn.json'
    knn.write_text(json.dumps([dict(subnet='64x3', k20=70.),
                               dict(subnet='96x4', k20=60.)]))
    proc = run(['tools/extract_subnet.py', ckpt, '--max-params', '0.5M',
                '--accuracy', str(knn), '--out', str(tmp_path / 'a.pth')],
               repo_root)
    assert proc.stdout.startswith('chosen by k20: 64x3')
    proc = run(['tools/extract_subnet.py', ckpt, '--max-flops', '10',
                '--out', str(tmp_path / 'none.pth')], repo_root, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'error: no sub-network fits the budget; the cheapest is 64x3')
    assert not (tmp_path / 'none.pth').exists()


def test_timm_and_onnx_exports_from_the_tools(poa_checkpoints, repo_root,
                                              tmp_path):
    import timm
    from safetensors.torch import load_file
    out = tmp_path / 'vit.safetensors'
    proc = run(['tools/extract_subnet.py', poa_checkpoints['vit'],
                '--subnet', '96x4', '--format', 'timm', '--out', str(out)],
               repo_root)
    assert 'timm.create_model' in proc.stdout
    meta = json.loads((tmp_path / 'vit.json').read_text())
    model = timm.create_model(meta['architecture'], pretrained=False,
                              **meta['kwargs'])
    model.load_state_dict(load_file(out), strict=True)
    assert meta['subnet'] == '96x4' and meta['source'] == 'teacher'
    proc = run(['tools/extract_subnet.py', poa_checkpoints['swin'],
                '--subnet', 'max', '--format', 'timm', '--out',
                str(tmp_path / 'swin.safetensors')], repo_root, check=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith(
        'error: --format timm is available for ViT sub-networks only')
    assert not (tmp_path / 'swin.safetensors').exists()

    subnet = extract(repo_root, poa_checkpoints['vit'], '96x4',
                     str(tmp_path / 'vit.pth'))
    proc = run(['tools/export_onnx.py', subnet, '--out',
                str(tmp_path / 'vit.onnx'), '--dynamic-batch'], repo_root)
    assert 'ONNX Runtime vs PyTorch at batch 3' in proc.stdout
    assert (tmp_path / 'vit.onnx').exists()


def test_linear_probe_and_knn_tools(poa_checkpoints, repo_root, fashion_mnist,
                                    tmp_path):
    # The config the checkpoint was trained with (the run dumped it; the
    # fixture changed the heads with --cfg-options).
    config = osp.join(osp.dirname(poa_checkpoints['vit']),
                      osp.basename(FAMILIES['vit'][0]))
    common = [poa_checkpoints['vit'], '--subnets', 'min', 'max',
              '--train-dir', f'{fashion_mnist}/train', '--val-dir',
              f'{fashion_mnist}/test', '--out-dir', str(tmp_path)]
    proc = run(['tools/linear_probe.py', config] + common + ['--epochs',
                                                            '20'], repo_root)
    assert '[linear probe 2/2]' in proc.stdout
    rows = json.loads((tmp_path / 'linear.json').read_text())
    assert [r['subnet'] for r in rows] == ['64x3', '192x6']
    assert all(r['linear'] > 20 for r in rows)  # chance: 10 %
    assert (tmp_path / 'linear.csv').exists()
    proc = run(['tools/knn_eval.py', config] + common + ['--raw-pixels'],
               repo_root)
    assert '[k-NN 2/2] 192x6' in proc.stdout and 'ETA' in proc.stdout
    rows = json.loads((tmp_path / 'knn.json').read_text())
    assert [r['subnet'] for r in rows] == ['64x3', '192x6', 'raw pixels']
    assert rows[-1]['k20'] > 20 and 'raw pixels' in (
        tmp_path / 'knn.csv').read_text()
    # One pass for both: the probe reuses the k-NN pass's features and
    # gives the linear_probe tool's rows.
    both = tmp_path / 'both'
    common[-1] = str(both)
    proc = run(['tools/knn_eval.py', config] + common +
               ['--linear-probe', '--epochs', '20'], repo_root)
    assert '[linear probe 2/2]' in proc.stdout
    assert json.loads((both / 'linear.json').read_text()) == json.loads(
        (tmp_path / 'linear.json').read_text())
    assert json.loads((both / 'knn.json').read_text()) == [
        r for r in json.loads((tmp_path / 'knn.json').read_text())
        if r['subnet'] != 'raw pixels']
    proc = run(['tools/knn_eval.py', config] + common + ['--ks', '0'],
               repo_root, check=False)
    assert proc.returncode == 2 and '--ks must be positive' in proc.stderr

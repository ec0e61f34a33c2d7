"""Classification downstream, as a user runs it: tools/to_mmpretrain.py ->
every size in one run (tools/train.py, tools/dist_train.sh) -> a size cut
out as a stock ImageClassifier -> MMPretrain's own tools/test.py and
tools/train.py (the copies inside the installed package)."""
import json
import os
import os.path as osp
import re
import subprocess

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import load
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from poa_test_helpers.tools import FAMILIES, ROOT, run, stock_tool

pytestmark = pytest.mark.slow  # subprocess runs of the tools

# ResNet states no input size; 32 px keeps its runs short.
SIZE_ARGS = {'vit': [], 'swin': [], 'resnet': ['--img-size', '32']}
SHIPPED_CONFIG = ('configs/finetune/'
                  'elastic-ft_vit-tiny_1xb64-300i_fashion-mnist.py')
# A size between the smallest and the intact network.
MIDDLE = dict({f: spec for f, (_, spec) in FAMILIES.items()}, swin='24x4')


def top1(proc, stage='test') -> float:
    found = re.findall(rf'{stage}/accuracy/top1: ([\d.]+)',
                       proc.stdout + proc.stderr)
    assert found, proc.stdout[-2000:] + proc.stderr[-2000:]
    return float(found[-1])


def family_config(family, poa_ckpt, data_root, out, *extra):
    run(['tools/to_mmpretrain.py', poa_ckpt, '--elastic', '--data-root',
         data_root, '--out', out, '--max-iters', '4', '--batch-size', '8',
         '--val-subnets', 'min', MIDDLE[family], 'max',
         *SIZE_ARGS[family], *extra])
    return out


def stock_scores(cfg_path, results_path):
    """Per image, the scores the stock test.py dumped (``--out``)."""
    return torch.stack([r['pred_score'] for r in load(results_path)])


def elastic_scores(model, spec, cfg_path):
    """Per image, the elastic classifier's scores at ``spec`` over the test
    loader of ``cfg_path`` (the same images, in the same order)."""
    from mmpretrain.registry import MODELS

    from poa_mm.apis.config_check import check_config_keys
    cfg = Config.fromfile(cfg_path)
    assert check_config_keys(cfg) is None  # no false alarm on our configs
    init_default_scope('mmpretrain')
    loader = Runner.build_dataloader(dict(cfg.test_dataloader,
                                          num_workers=0))
    preprocess = MODELS.build(dict(type='ClsDataPreprocessor',
                                   **cfg.data_preprocessor))
    scores = []
    with torch.no_grad(), model.backbone.subnet(spec):
        for batch in loader:
            data = preprocess(batch, False)
            scores.append(model(data['inputs'], mode='tensor').softmax(-1))
    return torch.cat(scores)


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_every_size_in_one_run_then_stock_test(family, poa_checkpoints,
                                               fashion_mnist, tmp_path):
    import poa_mm  # noqa: F401
    from poa_mm.apis.extract_classifier import (build_elastic_classifier,
                                                load_classifier_checkpoint)
    cfg = family_config(family, poa_checkpoints[family], fashion_mnist,
                        str(tmp_path / 'family.py'))
    work = tmp_path / 'w'
    proc = run(['tools/train.py', cfg, '--work-dir', str(work)])
    assert 'Backbone weights verified' in proc.stdout + proc.stderr
    model = build_elastic_classifier(
        *load_classifier_checkpoint(str(work / 'iter_4.pth')))
    space = model.backbone.search_space
    sizes = [str(space.resolve(n)) for n in ('min', MIDDLE[family], 'max')]
    history = json.loads((work / 'family_val.json').read_text())
    assert [h['iter'] for h in history] == [4]
    assert list(history[0]['metrics']) == sizes
    scalars = [json.loads(line) for line in open(
        next(work.glob('*/vis_data/scalars.json')))]
    val = [s for s in scalars if 'val/mean/accuracy/top1' in s]
    assert len(val) == 1 and val[0]['step'] == 4
    for spec in sizes:
        assert val[0][f'val/{spec}/accuracy/top1'] == \
            history[0]['metrics'][spec]['accuracy/top1']
    assert (work / 'best_mean_accuracy_top1_iter_4.pth').exists()

    # The smallest size as a stock ImageClassifier, tested by stock test.py.
    cls = str(tmp_path / 'cls.pth')
    run(['tools/extract_subnet.py', str(work / 'iter_4.pth'), '--subnet',
         'min', '--out', cls])
    cls_cfg = str(tmp_path / 'cls.py')
    run(['tools/to_mmpretrain.py', cls, '--data-root', fashion_mnist,
         '--out', cls_cfg, '--max-iters', '2', '--batch-size', '8',
         *SIZE_ARGS[family]])
    results = str(tmp_path / 'preds.pkl')
    proc = run([stock_tool('mmpretrain', 'test.py'), cls_cfg, cls,
                '--work-dir', str(tmp_path / 't'), '--out', results])
    assert top1(proc) == history[0]['metrics'][sizes[0]]['accuracy/top1']
    stock = stock_scores(cls_cfg, results)
    elastic = elastic_scores(model, space.resolve('min'), cls_cfg)
    assert stock.shape == elastic.shape == (100, 10)
    assert (stock - elastic).abs().max() <= 1e-5

    # The same classifier through ONNX Runtime: the elastic model's logits.
    import onnxruntime as ort

    from poa_mm.apis.onnx_export import export_onnx
    onnx_path = str(tmp_path / 'cls.onnx')
    report = export_onnx(cls, onnx_path)
    assert report['outputs'] == [[10]]
    x = torch.randn(2, 3, *report['input_size'],
                    generator=torch.Generator().manual_seed(1))
    (got, ) = ort.InferenceSession(onnx_path).run(None, {'images': x.numpy()})
    with torch.no_grad(), model.backbone.subnet(space.resolve('min')):
        want = model(x, mode='tensor')
    assert abs(got - want.numpy()).max() <= 1e-4 * want.abs().max()


def test_one_size_with_stock_train_test_and_resume(poa_checkpoints,
                                                   fashion_mnist, tmp_path):
    """Stock train.py fine-tunes an extracted backbone (its weights checked
    before the first step); stock test.py and stock train.py --resume read
    the checkpoint stock train.py wrote (torch's weights_only default)."""
    subnet = str(tmp_path / 'vit.pth')
    run(['tools/extract_subnet.py', poa_checkpoints['vit'], '--subnet',
         FAMILIES['vit'][1], '--out', subnet])
    cfg = str(tmp_path / 'cls.py')
    run(['tools/to_mmpretrain.py', subnet, '--data-root', fashion_mnist,
         '--out', cfg, '--max-iters', '2', '--batch-size', '8'])
    work = str(tmp_path / 'w')
    proc = run([stock_tool('mmpretrain', 'train.py'), cfg, '--work-dir',
                work])
    log = proc.stdout + proc.stderr
    assert 'Backbone weights verified' in log
    losses = [float(x) for x in re.findall(r' loss: ([\d.naif]+)', log)]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    val_top1 = top1(proc, 'val')
    proc = run([stock_tool('mmpretrain', 'test.py'), cfg,
                osp.join(work, 'iter_2.pth'), '--work-dir', work])
    assert top1(proc) == val_top1
    proc = run([stock_tool('mmpretrain', 'train.py'), cfg, '--work-dir',
                work, '--resume', '--cfg-options', 'train_cfg.max_iters=3'])
    assert 'resumed epoch: 0, iter: 2' in proc.stdout + proc.stderr
    assert osp.isfile(osp.join(work, 'iter_3.pth'))


def test_random_init_backbone_fails_the_stock_run(poa_checkpoints,
                                                  fashion_mnist, tmp_path):
    """A config whose backbone would silently stay at random init (its
    init_cfg dropped) stops before the first step."""
    subnet = str(tmp_path / 'vit.pth')
    run(['tools/extract_subnet.py', poa_checkpoints['vit'], '--subnet',
         'min', '--out', subnet])
    cfg = str(tmp_path / 'cls.py')
    run(['tools/to_mmpretrain.py', subnet, '--data-root', fashion_mnist,
         '--out', cfg, '--max-iters', '2', '--batch-size', '8'])
    proc = run([stock_tool('mmpretrain', 'train.py'), cfg, '--work-dir',
                str(tmp_path / 'w'), '--cfg-options',
                'model.backbone.init_cfg=None'], check=False)
    assert proc.returncode != 0
    assert 'does not hold the weights of' in proc.stderr
    assert not (tmp_path / 'w' / 'iter_2.pth').exists()


def test_two_ranks_train_the_same_sizes(poa_checkpoints, fashion_mnist,
                                        tmp_path):
    """tools/dist_train.sh with 2 gloo ranks: every step, both ranks run the
    same sandwich (intact, smallest, the same random draws); then
    tools/dist_test.sh on the checkpoint."""
    cfg = Config.fromfile(family_config(
        'vit', poa_checkpoints['vit'], fashion_mnist,
        str(tmp_path / 'family.py')))
    cfg.custom_imports['imports'].append('poa_test_helpers.record_hook')
    cfg.custom_hooks.append(dict(type='RankRecorderHook',
                                 out_dir=str(tmp_path / 'rec')))
    cfg.default_hooks.logger.interval = 1
    cfg.dump(str(tmp_path / 'family_2ranks.py'))
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_PORT='29531',
               PYTHON=os.sys.executable,
               PYTHONPATH=f'{ROOT}:{ROOT}/tests')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(tmp_path / 'family_2ranks.py'),
         '2', '--work-dir', str(tmp_path / 'w')], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / 'rec' / f'rank{r}.json').read_text())
             for r in (0, 1)]
    sandwiches = [[rec['sandwich'] for rec in r] for r in ranks]
    assert len(sandwiches[0]) == 4 and sandwiches[0] == sandwiches[1]
    assert all(len(s) == 4 for s in sandwiches[0])  # intact, min, 2 drawn
    assert len({tuple(s[2:]) for s in sandwiches[0]}) > 1  # draws vary
    # tools/dist_test.sh: MMPretrain's own test.py on 2 ranks, every size
    # (FamilyTestLoop), the same top-1 as the validation at that iteration.
    proc = subprocess.run(
        ['bash', 'tools/dist_test.sh', str(tmp_path / 'family_2ranks.py'),
         str(tmp_path / 'w' / 'iter_4.pth'), '2', '--work-dir',
         str(tmp_path / 'w')], cwd=ROOT, env=dict(env, MASTER_PORT='29533'),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stages = json.loads((tmp_path / 'w' / 'family_val.json').read_text())
    assert [h['stage'] for h in stages] == ['val', 'test']
    assert stages[0]['metrics'] == stages[1]['metrics']


def test_shipped_config_is_what_the_writer_writes(poa_checkpoints,
                                                  fashion_mnist, tmp_path):
    """configs/finetune/ holds the writer's output for the demo's supernet,
    paths aside."""
    shipped = Config.fromfile(osp.join(ROOT, SHIPPED_CONFIG)).to_dict()
    out = str(tmp_path / 'family.py')
    run(['tools/to_mmpretrain.py', poa_checkpoints['vit'], '--elastic',
         '--data-root', fashion_mnist, '--out', out, '--max-iters', '300',
         '--batch-size', '64', '--num-random', '1', '--val-subnets',
         '64x3', '96x4', '128x5', '160x5', '192x6'])
    written = json.dumps(Config.fromfile(out).to_dict()).replace(
        poa_checkpoints['vit'], 'work_dirs/demo/iter_500.pth').replace(
        fashion_mnist, 'data/fashion_mnist_finetune_quick')
    assert json.loads(written) == json.loads(json.dumps(shipped))


def test_bad_input_is_refused_in_one_line_before_any_work(
        poa_checkpoints, fashion_mnist, tmp_path):
    out = tmp_path / 'cls.py'
    poa = poa_checkpoints['vit']
    subnet = str(tmp_path / 'vit.pth')
    run(['tools/extract_subnet.py', poa, '--subnet', 'min', '--out', subnet])
    (tmp_path / 'taken.py').write_text('# keep me\n')
    family = ['--elastic', '--data-root', fashion_mnist]
    cases = [
        ([poa, *family, '--val-subnets', 'huge'], "'huge'"),
        ([poa, *family, '--subnets', '999x3'], '999x3'),
        ([poa, *family, '--num-random', '-1'], '--num-random must be >= 0'),
        ([poa, *family, '--temperature', '0'],
         '--temperature must be positive'),
        ([poa, *family, '--save-best', 'nosuch'], "'nosuch'"),
        ([subnet, *family], 'not a POA training checkpoint'),
        ([poa, '--data-root', fashion_mnist], 'extract_subnet'),
        ([subnet, '--data-root', str(tmp_path / 'missing')],
         'data root not found'),
        ([subnet, '--data-root', fashion_mnist, '--classes-file',
          str(tmp_path / 'taken.py')], 'class'),
    ]
    for argv, expected in cases:
        proc = run(['tools/to_mmpretrain.py', *argv, '--out', str(out)],
                   check=False)
        last = proc.stderr.strip().splitlines()[-1]
        assert proc.returncode != 0 and last.startswith(
            ('error: ', 'to_mmpretrain.py: error: ')), (argv, proc.stderr)
        assert expected in last, (argv, last)
        assert not out.exists()
    proc = run(['tools/to_mmpretrain.py', subnet, '--data-root',
                fashion_mnist, '--out', str(tmp_path / 'taken.py')],
               check=False)
    assert proc.returncode != 0 and 'exists' in proc.stderr
    assert (tmp_path / 'taken.py').read_text() == '# keep me\n'

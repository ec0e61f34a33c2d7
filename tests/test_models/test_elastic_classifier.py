"""ElasticImageClassifier: every size exports as a stock ImageClassifier
that computes the same logits; the sandwich step and its refusals."""
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from poa_mm.apis.extract_classifier import classifier_export
from poa_mm.utils import SettingError

GAP = dict(type='GlobalAveragePooling')
FAMILIES = {
    'vit': (dict(type='ElasticViT', arch='micro'), None, 28),
    'swin': (dict(type='ElasticSwin', arch='tiny', img_size=56), GAP, 56),
    'resnet': (dict(type='ElasticResNet', arch='tiny'), GAP, 32),
}


def build(family, **kwargs):
    init_default_scope('mmpretrain')
    backbone, neck, _ = FAMILIES[family]
    width = MODELS.build(backbone).max_out_channels
    return MODELS.build(dict(
        type='ElasticImageClassifier', backbone=backbone, neck=neck,
        head=dict(type='ElasticLinearClsHead', num_classes=10,
                  in_channels=width), **kwargs))


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_every_size_exports_as_a_stock_classifier(family):
    torch.manual_seed(0)
    model = build(family).eval()
    size = FAMILIES[family][2]
    x = torch.randn(2, 3, size, size)
    for spec in [model.smallest, model.intact] + model.random_pool[::3]:
        cfg, state = classifier_export(model, spec)
        assert cfg['type'] == 'mmpretrain.ImageClassifier'
        stock = MODELS.build(cfg)
        stock.load_state_dict(state, strict=True)
        with torch.no_grad(), model.backbone.subnet(spec):
            diff = (model(x) - stock.eval()(x)).abs().max()
        assert diff <= 1e-5, (spec, float(diff))


def test_sandwich_step_sums_the_branch_gradients():
    torch.manual_seed(0)
    model = build('vit', num_random=1).train()
    images = [(torch.rand(3, 28, 28) * 255).byte() for _ in range(4)]
    samples = [DataSample().set_gt_label(i % 10) for i in range(4)]
    data = dict(inputs=images, data_samples=samples)
    # The step's sizes follow the Runner's iteration (an earlier test may
    # have left another in the MessageHub).
    MessageHub.get_current_instance().update_info('iter', 0)
    specs = model.sandwich(0)
    assert specs[:2] == [model.intact, model.smallest] and len(specs) == 3
    # By hand: label loss of the intact network, KD of the others to it.
    batch = model.data_preprocessor(data, True)
    model.zero_grad()
    losses, target = model.branch_loss(**batch, subnet=specs[0])
    total = losses['loss']
    for spec in specs[1:]:
        total = total + model.branch_loss(**batch, subnet=spec,
                                          target=target.detach())[0]['loss']
    total.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()
                if p.grad is not None}
    model.zero_grad()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.))
    log = model.train_step(data, wrapper)
    assert abs(log['loss'] - float(total)) < 1e-5
    for name, grad in expected.items():
        step = before[name] - dict(model.named_parameters())[name].detach()
        assert torch.allclose(step, grad, atol=1e-6), name


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_random=-1), 'num_random'),
    (dict(distill=dict(temperature=0.)), 'temperature'),
    (dict(distill=dict(temprature=2.)), "did you mean 'temperature'"),
    (dict(distill=dict(label_weight=2.)), 'label_weight'),
])
def test_bad_settings_are_refused_in_one_line(kwargs, message):
    with pytest.raises(SettingError, match=message):
        build('vit', **kwargs)


def test_unknown_size_and_wrong_head_width_are_refused():
    with pytest.raises(ValueError, match='Unknown sub-network'):
        build('vit', subnets=['vit-huge'])
    init_default_scope('mmpretrain')
    with pytest.raises(SettingError, match='in_channels'):
        MODELS.build(dict(
            type='ElasticImageClassifier',
            backbone=dict(type='ElasticViT', arch='micro'),
            head=dict(type='ElasticLinearClsHead', num_classes=10,
                      in_channels=64)))

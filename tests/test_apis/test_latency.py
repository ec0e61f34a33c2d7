import numpy as np
import pytest
import torch

from poa_mm.apis.family import pareto_front, subnet_family
from poa_mm.apis.latency import family_latency, fit_latency, measure_latency
from poa_mm.apis.pick import pick_subnet

MICRO = dict(type='ElasticViT', arch='micro')


def test_fit_is_least_squares_on_flops():
    a, b = fit_latency([1., 2., 4.], [3., 5., 9.])
    assert a == pytest.approx(1.) and b == pytest.approx(2.)


def test_measure_latency_reports_median_and_spread():
    result = measure_latency(torch.nn.Conv2d(3, 8, 3), 16, min_run_time=0.01)
    assert result['latency_ms'] > 0 and result['spread'] >= 0
    assert result['unstable'] == (result['spread'] > 0.2)
    with pytest.raises(ValueError, match='at least 3'):
        measure_latency(torch.nn.Identity(), 8, repeats=2)


def test_family_latency_measures_some_and_predicts_the_rest():
    rows = subnet_family(MICRO)
    lines = []
    timed = family_latency(MICRO, rows, n_measured=4, min_run_time=0.01,
                           progress=lines.append)
    out = timed['rows']
    assert len(out) == len(rows) and len(lines) == 4
    measured = [r for r in out if not r['latency_predicted']]
    assert len(measured) == 4 and set(timed['measured']) == {
        r['subnet'] for r in measured}
    cheapest = min(rows, key=lambda r: r['gflops'])['subnet']
    assert cheapest in timed['measured']
    assert timed['holdout_error'] is not None and timed['threads'] >= 1
    a, b = timed['coef']
    for r in out:
        if r['latency_predicted']:
            assert r['latency_ms'] == pytest.approx(a + b * r['gflops'])
    assert np.isfinite([r['latency_ms'] for r in out]).all()
    # The picker takes latency budgets, and the front any cost axis.
    slowest = max(r['latency_ms'] for r in out)
    assert pick_subnet(out, max_latency_ms=slowest)['choice']
    assert pareto_front([dict(r, k20=r['gflops']) for r in out], 'k20',
                        'latency_ms')

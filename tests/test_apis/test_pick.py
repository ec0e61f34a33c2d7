import pytest

from poa_mm.apis.family import subnet_family
from poa_mm.apis.pick import parse_count, pick_subnet, predict_accuracy

MICRO = dict(type='ElasticViT', arch='micro')


def test_parse_count():
    assert parse_count('25M') == 25e6 and parse_count('4.5G') == 4.5e9
    assert parse_count('800k') == 800e3 and parse_count('1e6') == 1e6
    for bad in ('abc', '-3M', '0'):
        with pytest.raises(ValueError):
            parse_count(bad)


def test_without_accuracy_the_most_expensive_under_the_budget():
    rows = subnet_family(MICRO)
    budget = sorted(r['params_m'] for r in rows)[3] * 1e6
    picked = pick_subnet(rows, max_params=budget)
    fitting = [r for r in rows if r['params_m'] * 1e6 <= budget]
    best = max(fitting, key=lambda r: (r['gflops'], r['params_m']))
    assert picked['choice']['subnet'] == best['subnet']
    assert picked['ranked_by'] == 'cost' and picked['runner_up']


def test_measured_accuracy_wins_and_the_rest_is_predicted():
    rows = subnet_family(MICRO)
    # accuracy grows with width and depth, measured on 6 sub-networks
    truth = {r['subnet']: r['width'] / 8 + 3 * int(r['depths'])
             for r in rows}
    measured = ['64x2', '64x4', '96x3', '128x2', '128x3', '96x4']
    acc = [dict(subnet=s, k20=truth[s]) for s in measured]
    predicted = predict_accuracy(rows, {s: truth[s] for s in measured})
    for spec, value in predicted.items():
        assert value == pytest.approx(truth[spec], abs=1e-6)
    picked = pick_subnet(rows, max_flops=1e12, accuracy=acc)
    assert picked['choice']['subnet'] == '128x4'  # the largest, predicted
    assert picked['choice']['predicted']


def test_budget_errors_name_the_cheapest():
    rows = subnet_family(MICRO)
    with pytest.raises(ValueError, match='the cheapest is 64x2'):
        pick_subnet(rows, max_params=10)
    with pytest.raises(ValueError, match='not in this supernet'):
        pick_subnet(rows, max_params=1e9,
                    accuracy=[dict(subnet='1024x24', k20=1.)])
    with pytest.raises(ValueError, match='give a budget'):
        pick_subnet(rows)

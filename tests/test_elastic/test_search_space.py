from collections import Counter

import pytest

from poa_mm.elastic import SubnetSpec, evenly_spaced_indices, grid_search_space


def vit_l_space():
    return grid_search_space(range(384, 1025, 64), range(12, 25), 3)


def test_depth_rule_matches_floor_formula():
    assert evenly_spaced_indices(24, 12) == [
        0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 23
    ]
    assert evenly_spaced_indices(24, 13)[:3] == [0, 1, 3]
    for L in (6, 18, 24, 36):
        for d in range(2, L + 1):
            idx = evenly_spaced_indices(L, d)
            assert idx == [(L - 1) * j // (d - 1) for j in range(d)]
            assert idx[0] == 0 and idx[-1] == L - 1 and len(set(idx)) == d
    with pytest.raises(ValueError):
        evenly_spaced_indices(12, 13)


def test_vit_l_sampling_multiset():
    space = vit_l_space()
    assert len(space) == 143 and len(space.candidates()) == 143
    assert len(space.sampling) == 573
    assert space.sampling[-1] == SubnetSpec(1024, (24, ))
    elastic = space.elastic_multiset
    assert len(elastic) == 572
    counts = Counter(elastic)
    assert counts[SubnetSpec(384, (12, ))] == 9
    assert counts[SubnetSpec(1024, (24, ))] == 0  # the intact is not drawn
    # Marginal width probabilities 13.8% (384) down to 4.4% (1024).
    p384 = sum(c for s, c in counts.items() if s.width == 384) / 572
    p1024 = sum(c for s, c in counts.items() if s.width == 1024) / 572
    assert p384 == pytest.approx(0.138, abs=5e-4)
    assert p1024 == pytest.approx(0.044, abs=5e-4)


def test_swin_grid_has_89_entries():
    space = grid_search_space([96, 112, 128], range(6, 19), 2)
    assert len(space.sampling) == 89 and len(space.elastic_multiset) == 88


def test_resolve_presets_specs_and_errors():
    space = grid_search_space(range(384, 1025, 64), range(12, 25), 3,
                              dict(small=SubnetSpec(384, (12, ))))
    assert space.resolve('small') == SubnetSpec(384, (12, ))
    assert space.resolve('max') == space.intact
    assert space.resolve('min') == SubnetSpec(384, (12, ))
    assert space.resolve('640x16') == SubnetSpec(640, (16, ))
    with pytest.raises(ValueError, match=r'valid widths: \[384, 448'):
        space.resolve('400x12')
    with pytest.raises(ValueError, match='valid: 12..24'):
        space.resolve('384x25')
    with pytest.raises(ValueError, match='valid presets'):
        space.resolve('huge')
    assert SubnetSpec(400, (12, )) not in space
    assert space.select(['all'])[0] == SubnetSpec(384, (12, ))
    assert len(space.select(['all', 'small'])) == 143

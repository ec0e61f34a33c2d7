import pytest

from poa_mm.elastic import SubnetSpec


def test_parse_and_canonical_string_round_trip():
    vit = SubnetSpec.parse('768x12')
    assert vit == SubnetSpec(768, (12, ))
    assert str(vit) == '768x12' and vit.depth == 12
    resnet = SubnetSpec.parse('64-4-6')
    assert resnet == SubnetSpec(64, (4, 6))
    assert str(resnet) == '64-4-6'
    with pytest.raises(AttributeError, match='elastic stages'):
        resnet.depth


@pytest.mark.parametrize('text', ['768', 'x12', '768x', '64-4-', 'abc', ''])
def test_parse_rejects_malformed(text):
    with pytest.raises(ValueError, match='Cannot parse'):
        SubnetSpec.parse(text)


def test_hashable_and_ordered_by_cost():
    specs = [SubnetSpec.parse(s) for s in ['1024x24', '384x12', '768x12',
                                           '384x24']]
    assert len({*specs, SubnetSpec(384, (12, ))}) == 4
    assert [str(s) for s in sorted(specs)] == [
        '384x12', '384x24', '768x12', '1024x24'
    ]


def test_rejects_non_positive():
    with pytest.raises(ValueError):
        SubnetSpec(0, (12, ))
    with pytest.raises(ValueError):
        SubnetSpec(384, ())

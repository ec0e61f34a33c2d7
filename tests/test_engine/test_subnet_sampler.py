from collections import Counter

from poa_mm.elastic import grid_search_space
from poa_mm.engine import SubnetSampler


def multiset():
    return grid_search_space(range(384, 1025, 64), range(12, 25),
                             3).elastic_multiset


def test_one_pass_draws_the_multiset_exactly_then_reshuffles():
    ms = multiset()
    sampler = SubnetSampler(ms, seed=0)
    first = [next(sampler) for _ in range(len(ms))]
    assert Counter(first) == Counter(ms)
    second = [next(sampler) for _ in range(len(ms))]
    assert Counter(second) == Counter(ms) and second != first


def test_per_rank_seeds_differ_and_equal_seeds_agree():
    # ElasticSamplingHook seeds rank r with seed + r (the 2-rank run in
    # tests/test_tools/test_train.py checks that ranks draw differently).
    ms = multiset()
    seq_a = [next(s) for s in [SubnetSampler(ms, 0)] for _ in range(20)]
    seq_b = [next(s) for s in [SubnetSampler(ms, 1)] for _ in range(20)]
    again = [next(s) for s in [SubnetSampler(ms, 0)] for _ in range(20)]
    assert seq_a != seq_b and seq_a == again


# How ElasticSamplingHook resumes (same seed, the recorded draws replayed)
# is checked through a real resumed run: tests/test_tools/test_train.py,
# test_resume_reproduces_the_uninterrupted_run, compares the sub-networks
# of iterations 3-5 with the uninterrupted run's.

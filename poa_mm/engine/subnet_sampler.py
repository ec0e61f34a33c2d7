"""Drawing elastic sub-networks from POA's weighted multiset."""
import random
from typing import List, Sequence

from poa_mm.elastic import SubnetSpec


class SubnetSampler:
    """Draw without replacement from a shuffled multiset; reshuffle after
    every full pass (the official ``get_network_id``).

    Args:
        multiset (Sequence[SubnetSpec]): What to draw from.
        seed (int): Seed of this sampler's own ``random.Random``.
    """

    def __init__(self, multiset: Sequence[SubnetSpec], seed: int):
        if not multiset:
            raise ValueError('cannot sample from an empty multiset')
        self.multiset = list(multiset)
        self.rng = random.Random(seed)
        self.order: List[int] = []
        self.position = 0

    def __next__(self) -> SubnetSpec:
        if self.position >= len(self.order):
            self.order = list(range(len(self.multiset)))
            self.rng.shuffle(self.order)
            self.position = 0
        spec = self.multiset[self.order[self.position]]
        self.position += 1
        return spec

    def __iter__(self):
        return self

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

    def state_dict(self) -> dict:
        """Plain-typed state (loads under ``weights_only=True``)."""
        version, internal, gauss = self.rng.getstate()
        return dict(
            multiset=[str(s) for s in self.multiset],
            rng=[version, list(internal), gauss],
            order=list(self.order),
            position=self.position)

    def load_state_dict(self, state: dict) -> None:
        if state['multiset'] != [str(s) for s in self.multiset]:
            raise ValueError('the saved sampler state belongs to another '
                             'search space')
        version, internal, gauss = state['rng']
        self.rng.setstate((version, tuple(internal), gauss))
        self.order = list(state['order'])
        self.position = int(state['position'])

"""Search spaces: all candidates, the paper's sampling multiset, presets."""
import itertools
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from .spec import SubnetSpec


def evenly_spaced_indices(max_depth: int, depth: int) -> List[int]:
    """Indices of the blocks kept at ``depth`` out of ``max_depth``.

    POA keeps ``floor((L - 1) * j / (d - 1))`` for ``j = 0..d-1``: the first
    and the last block are always kept and the order is preserved.
    """
    if not 1 <= depth <= max_depth:
        raise ValueError(f'depth must be in [1, {max_depth}], got {depth}')
    if depth == 1:
        return [0]
    return [(max_depth - 1) * j // (depth - 1) for j in range(depth)]


def block_renumbering(kept: Sequence[int]) -> Dict[int, int]:
    """``{supernet block index: exported block index}`` of the ``kept``
    blocks (a family geometry's; every exporter renames its blocks with
    it)."""
    return {old: new for new, old in enumerate(kept)}


class SearchSpace:
    """The sub-networks of an elastic supernet.

    Args:
        widths (Sequence[int]): Width choices, ascending.
        depth_choices (Sequence[Sequence[int]]): Depth choices of each
            elastic stage, ascending.
        sampling (Sequence[SubnetSpec]): The weighted sampling multiset of
            the paper, with the intact network as its last entry.
        presets (Mapping[str, SubnetSpec]): Named sub-networks.
    """

    def __init__(self,
                 widths: Sequence[int],
                 depth_choices: Sequence[Sequence[int]],
                 sampling: Sequence[SubnetSpec],
                 presets: Optional[Mapping[str, SubnetSpec]] = None):
        self.widths = tuple(widths)
        self.depth_choices = tuple(tuple(d) for d in depth_choices)
        self.sampling = tuple(sampling)
        self.intact = SubnetSpec(self.widths[-1],
                                 tuple(d[-1] for d in self.depth_choices))
        if not self.sampling or self.sampling[-1] != self.intact:
            raise ValueError('the sampling multiset must end with the intact '
                             f'network {self.intact}')
        presets = dict(presets or {})
        presets.setdefault('min', self.candidates()[0])
        presets.setdefault('max', self.intact)
        self.presets: Dict[str, SubnetSpec] = presets
        for spec in presets.values():
            self.validate(spec)

    def candidates(self) -> List[SubnetSpec]:
        """All sub-networks, ordered by cost."""
        return sorted(
            SubnetSpec(w, d) for w in self.widths
            for d in itertools.product(*self.depth_choices))

    def __len__(self) -> int:
        return len(self.widths) * int(
            np.prod([len(d) for d in self.depth_choices]))

    def __contains__(self, spec: SubnetSpec) -> bool:
        try:
            self.validate(spec)
        except ValueError:
            return False
        return True

    @property
    def elastic_multiset(self) -> List[SubnetSpec]:
        """What the elastic student draws from: the multiset minus intact."""
        return list(self.sampling[:-1])

    def validate(self, spec: SubnetSpec) -> SubnetSpec:
        """Raise ``ValueError`` naming the valid choices if out of range."""
        if spec.width not in self.widths:
            raise ValueError(f'Width {spec.width} of sub-network {spec} is '
                             f'not in the search space; valid widths: '
                             f'{list(self.widths)}')
        if len(spec.depths) != len(self.depth_choices):
            raise ValueError(
                f'Sub-network {spec} has {len(spec.depths)} elastic '
                f'depth(s); this search space has {len(self.depth_choices)}')
        for stage, (depth, valid) in enumerate(
                zip(spec.depths, self.depth_choices)):
            if depth not in valid:
                raise ValueError(
                    f'Depth {depth} (elastic stage {stage}) of sub-network '
                    f'{spec} is out of range; valid: {valid[0]}..{valid[-1]}')
        return spec

    def resolve(self, name: Union[str, SubnetSpec]) -> SubnetSpec:
        """A preset name or a spec string, validated."""
        if isinstance(name, str) and name.strip().lower() in self.presets:
            return self.presets[name.strip().lower()]
        try:
            spec = SubnetSpec.parse(name)
        except ValueError:
            raise ValueError(
                f'Unknown sub-network {name!r}: valid presets are '
                f'{sorted(self.presets)}, or a spec such as '
                f'"{self.intact}"') from None
        return self.validate(spec)

    def select(self, names: Iterable[Union[str, SubnetSpec]]
               ) -> List[SubnetSpec]:
        """Resolve a list of names; ``'all'`` expands to every candidate.

        Duplicates are dropped; the result is ordered by cost.
        """
        chosen = set()
        for name in names:
            if isinstance(name, str) and name.strip().lower() == 'all':
                chosen.update(self.candidates())
            else:
                chosen.add(self.resolve(name))
        return sorted(chosen)


def grid_search_space(widths: Sequence[int],
                      depths: Sequence[int],
                      sample_scale: float,
                      presets: Optional[Mapping[str, SubnetSpec]] = None
                      ) -> SearchSpace:
    """A width x depth grid with POA's sampling multiset (ViT and Swin).

    Sub-network ``(w_i, d_j)`` appears ``round(ws_i * ds_j)`` times, with
    ``ws = linspace(S, 1, n_widths)`` and ``ds = linspace(S, 1, n_depths)``
    over ascending widths and depths (paper Eq. 14): smaller sub-networks
    are drawn more often. The intact network comes last.
    """
    widths, depths = list(widths), list(depths)
    ws = np.linspace(sample_scale, 1, len(widths))
    ds = np.linspace(sample_scale, 1, len(depths))
    sampling = []
    for i, w in enumerate(widths):
        for j, d in enumerate(depths):
            sampling += [SubnetSpec(w, (d, ))] * int(round(ws[i] * ds[j]))
    return SearchSpace(widths, [depths], sampling, presets)

"""The value that names one sub-network of an elastic supernet."""
import re
from dataclasses import dataclass
from typing import Tuple, Union

_VIT_FORM = re.compile(r'^(\d+)x(\d+)$')
_STAGE_FORM = re.compile(r'^(\d+)(?:-(\d+))+$')


@dataclass(frozen=True)
class SubnetSpec:
    """A sub-network: one width and the depth of each elastic stage.

    The canonical string is ``{width}x{depth}`` with one elastic stage
    (ViT ``768x12``, Swin ``96x6``) and ``{width}-{d1}-{d2}...`` with several
    (ResNet ``64-4-6``). Specs are hashable and sort by a compute proxy
    (``width**2 * total depth``), ties broken by width then depths.

    Args:
        width (int): The width (ViT embedding dims, Swin stage-1 channels,
            ResNet stage-1 bottleneck mid channels).
        depths (tuple[int]): Depth of each elastic stage.
    """
    width: int
    depths: Tuple[int, ...]

    def __post_init__(self):
        depths = tuple(int(d) for d in self.depths)
        object.__setattr__(self, 'width', int(self.width))
        object.__setattr__(self, 'depths', depths)
        if self.width <= 0 or not depths or min(depths) <= 0:
            raise ValueError(f'Invalid sub-network {self.width}/{depths}: '
                             'width and depths must be positive.')

    @property
    def depth(self) -> int:
        """The depth of a single-elastic-stage spec (ViT, Swin)."""
        if len(self.depths) != 1:
            raise AttributeError(
                f'{self} has {len(self.depths)} elastic stages; use .depths')
        return self.depths[0]

    @property
    def cost(self) -> int:
        """A compute proxy used for ordering: width squared times depth."""
        return self.width**2 * sum(self.depths)

    def _key(self):
        return (self.cost, self.width, self.depths)

    def __lt__(self, other: 'SubnetSpec') -> bool:
        return self._key() < other._key()

    def __le__(self, other: 'SubnetSpec') -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: 'SubnetSpec') -> bool:
        return self._key() > other._key()

    def __ge__(self, other: 'SubnetSpec') -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        if len(self.depths) == 1:
            return f'{self.width}x{self.depths[0]}'
        return '-'.join(str(v) for v in (self.width, ) + self.depths)

    @classmethod
    def parse(cls, text: Union[str, 'SubnetSpec']) -> 'SubnetSpec':
        """Parse ``'768x12'`` or ``'64-4-6'`` (a spec passes through)."""
        if isinstance(text, SubnetSpec):
            return text
        text = str(text).strip()
        if _VIT_FORM.match(text):
            width, depth = text.split('x')
            return cls(int(width), (int(depth), ))
        if _STAGE_FORM.match(text):
            width, *depths = (int(v) for v in text.split('-'))
            return cls(width, tuple(depths))
        raise ValueError(
            f'Cannot parse sub-network {text!r}: expected "WIDTHxDEPTH" '
            '(e.g. "768x12") or "WIDTH-D1-D2" (e.g. "64-4-6").')

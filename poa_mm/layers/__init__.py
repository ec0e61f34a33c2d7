"""Building blocks shared by the elastic backbones and the standard ones
they export to."""
from .bottleneck import GNBottleneck

__all__ = ['GNBottleneck']

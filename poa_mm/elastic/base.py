"""What every elastic backbone shares on top of ``set_subnet``."""
from contextlib import contextmanager


class ElasticBackboneMixin:
    """``subnet()`` context manager and an ``nn.Module``-style ``train``.

    Put it before ``BaseBackbone`` in the bases: MMPretrain's
    ``BaseBackbone.train`` returns None.
    """

    @contextmanager
    def subnet(self, spec):
        """Run the body with ``spec`` active, then restore the previous one."""
        previous = self.active_subnet
        self.set_subnet(spec)
        try:
            yield self.active_subnet
        finally:
            self.set_subnet(previous)

    def train(self, mode: bool = True):
        super().train(mode)
        return self

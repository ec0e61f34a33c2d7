"""What every elastic backbone shares on top of ``set_subnet``."""
import copy
from contextlib import contextmanager
from typing import Dict, Iterable, Union

from .spec import SubnetSpec


# The elastic contract: what every elastic backbone family implements. The
# algorithm, the hooks and the tools ask the backbone for these, never its
# class name. ``search_space`` (a SearchSpace) and ``active_subnet`` are set
# in ``__init__``.
CONTRACT = {
    'set_subnet': 'activate a sub-network (spec, spec string or preset)',
    'forward_tokens': 'pooled feature and patch tokens on the mask grid',
    'export_subnet': '(standard backbone cfg, state dict) of a sub-network',
    'dense_export_kwargs': 'export_subnet arguments for dense prediction',
    'downstream_spec': 'feature channels, necks, drop path, frozen stages, '
    'size class and layer decay of an exported backbone (classmethod)',
    'classification_spec': 'backbone settings, neck, feature width, drop '
    'path, size class and layer decay of an exported backbone in an '
    'ImageClassifier (classmethod)',
    'flops': 'closed-form multiply-adds of the exported backbone',
    'get_layer_depth': 'layer-wise lr decay depth of a parameter',
    'max_out_channels': "the intact network's feature width (property)",
    'out_channels': "the active sub-network's feature width (property)",
    'small_supernet': 'constructor arguments of a CPU-sized supernet of the '
    'family (class attribute; contract tests and smoke runs build it)',
}


# FLOPs of a LayerNorm / GroupNorm per element, as MMEngine's FlopAnalyzer
# counts them (the families' closed-form ``flops`` use it).
NORM_FLOPS = 5


def count_params(state_dict) -> int:
    """Parameters (elements) of a state dict, e.g. an exported backbone's:
    the one count the listing, the evaluations and the tools report."""
    return sum(t.numel() for t in state_dict.values())


class ElasticBackboneMixin:
    """The elastic contract (:data:`CONTRACT`), checked when a family's
    class is defined, plus arch resolution, the ``subnet()`` context
    manager and an ``nn.Module``-style ``train``.

    Put it before ``BaseBackbone`` in the bases: MMPretrain's
    ``BaseBackbone.train`` returns None.
    """

    arch_zoo: Dict[str, dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        missing = [name for name in CONTRACT if not hasattr(cls, name)]
        if missing:
            raise TypeError(
                f'{cls.__name__} does not implement the elastic contract: '
                + '; '.join(f'{n} ({CONTRACT[n]})' for n in missing))

    def _resolve_arch(self, arch: Union[str, dict],
                      required: Iterable[str]) -> dict:
        """A copy of the ``arch_zoo`` entry or of a custom dict with the
        ``required`` keys; clear errors otherwise."""
        name = type(self).__name__
        if isinstance(arch, str):
            key = arch.lower()
            if key not in self.arch_zoo:
                raise ValueError(f'Unknown {name} arch {arch!r}; choose '
                                 f'from {sorted(self.arch_zoo)} or pass a '
                                 'dict')
            return copy.deepcopy(self.arch_zoo[key])
        required = set(required)
        if not isinstance(arch, dict) or not required <= set(arch):
            raise ValueError(f'A custom {name} arch needs the keys '
                             f'{sorted(required)}, got {arch!r}')
        return copy.deepcopy(dict(arch))

    @staticmethod
    def _parse_presets(arch: dict) -> Dict[str, SubnetSpec]:
        return {
            k: SubnetSpec.parse(v)
            for k, v in arch.get('presets', {}).items()
        }

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

"""A DDP wrapper that runs POA's split-backward step."""
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

from ..models.algorithms.poa import split_train_step


@MODEL_WRAPPERS.register_module()
class POADistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that hands ``train_step`` to POA's split
    backward when the model asks for it (``split_backward=True``), and the
    joint step otherwise.

    The split step backwards the intact student under ``no_sync`` and the
    elastic one with the all-reduce, so parameters that the elastic
    sub-network does not use carry gradients only the intact phase made:
    DDP must be told (``find_unused_parameters=True``), or it silently
    averages wrong gradients. That combination is refused.
    """

    def __init__(self, module, find_unused_parameters: bool = False,
                 **kwargs):
        if getattr(module, 'split_backward', False) and \
                not find_unused_parameters:
            raise ValueError(
                'POA split_backward under DDP needs '
                'find_unused_parameters=True (with False the gradients of '
                'the parameters only the intact student uses are silently '
                'wrong)')
        super().__init__(module, find_unused_parameters=find_unused_parameters,
                         **kwargs)

    def train_step(self, data, optim_wrapper):
        if getattr(self.module, 'split_backward', False) and getattr(
                self.module, 'use_elastic', False):
            return split_train_step(self.module, self, data, optim_wrapper)
        return super().train_step(data, optim_wrapper)

"""A DDP wrapper that runs split-backward steps (POA's, the elastic
classifier's sandwich step)."""
from mmengine.model import MMDistributedDataParallel, is_model_wrapper
from mmengine.registry import MODEL_WRAPPERS


def unwrap_model(model):
    """The model inside a DDP/FSDP wrapper, or the model itself."""
    return model.module if is_model_wrapper(model) else model


@MODEL_WRAPPERS.register_module()
class POADistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that hands ``train_step`` to the model's
    ``split_train_step`` when the model asks for it (``uses_split_step``:
    POA with ``split_backward=True``, ``ElasticImageClassifier``), and the
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
                f'{type(module).__name__} (split backward) under DDP needs '
                'find_unused_parameters=True (with False the gradients of '
                'the parameters only some branches use are silently '
                'wrong)')
        super().__init__(module, find_unused_parameters=find_unused_parameters,
                         **kwargs)

    def train_step(self, data, optim_wrapper):
        if getattr(self.module, 'uses_split_step', False):
            return self.module.split_train_step(self, data, optim_wrapper)
        return super().train_step(data, optim_wrapper)

from .static_resnet import POAStaticResNet

__all__ = ['POAStaticResNet']

from .poa import POA

__all__ = ['POA']

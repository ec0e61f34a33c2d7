from .multi_projection_head import MultiProjectionHead, ProjectionHead

__all__ = ['MultiProjectionHead', 'ProjectionHead']

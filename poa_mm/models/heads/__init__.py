from .elastic_linear_head import ElasticLinearClsHead
from .multi_projection_head import MultiProjectionHead, ProjectionHead

__all__ = ['ElasticLinearClsHead', 'MultiProjectionHead', 'ProjectionHead']

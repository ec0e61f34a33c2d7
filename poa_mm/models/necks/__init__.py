from .simple_feature_pyramid import POASimpleFeaturePyramid

__all__ = ['POASimpleFeaturePyramid']

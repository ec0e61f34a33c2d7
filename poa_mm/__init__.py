"""poa-mm: POA for MMPretrain, MMDetection and MMSegmentation.

Importing the package registers every module into MMPretrain's registries
(use ``custom_imports=dict(imports=['poa_mm'])`` in configs).
"""
from . import apis, datasets, elastic, engine, evaluation, models  # noqa: F401
from .version import __version__  # noqa: F401

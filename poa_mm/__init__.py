"""poa-mm: POA for MMPretrain, MMDetection and MMSegmentation.

Importing the package registers every module into MMPretrain's registries
(use ``custom_imports=dict(imports=['poa_mm'])`` in configs).
"""
from . import apis, datasets, elastic, engine, evaluation, models  # noqa: F401
from .fileio import allow_runner_checkpoints
from .version import __version__  # noqa: F401

# torch's weights_only=True default reads the checkpoints MMEngine's Runner
# writes (message hub, numpy scalars) once poa_mm is imported, e.g. through
# a config's custom_imports in the stock tools; nothing else is allowed.
allow_runner_checkpoints()

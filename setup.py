import re

from setuptools import find_packages, setup


def read_version(path='poa_mm/version.py'):
    """The one version, written in poa_mm/version.py."""
    with open(path) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_requirements(path):
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith('#')]


setup(
    name='poa-mm',
    version=read_version(),
    description='POA (Pre-training Once for Models of All Sizes) for '
    'MMPretrain, MMDetection and MMSegmentation',
    packages=find_packages(include=['poa_mm', 'poa_mm.*']),
    python_requires='>=3.10',
    # Ranges for users bringing their own torch/mmcv; requirements.txt pins
    # the set scripts/setup_env.sh installs.
    install_requires=[
        'torch>=2.0', 'torchvision', 'mmengine>=0.10.0,<1.0',
        'mmcv>=2.0.0,<2.2.0', 'mmpretrain>=1.2.0,<2.0',
        'mmdet>=3.3.0,<4.0', 'mmsegmentation>=1.2.2,<2.0', 'ftfy', 'regex',
        'numpy', 'timm>=1.0', 'safetensors'
    ],
    extras_require=dict(
        dev=read_requirements('requirements-dev.txt'),
        onnx=['onnx>=1.17', 'onnxscript', 'onnxruntime>=1.20']),
)

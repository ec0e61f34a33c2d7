from setuptools import find_packages, setup


def read_requirements(path):
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith('#')]


setup(
    name='poa-mm',
    version='0.1.0',
    description='POA (Pre-training Once for Models of All Sizes) for '
    'MMPretrain, MMDetection and MMSegmentation',
    packages=find_packages(include=['poa_mm', 'poa_mm.*']),
    python_requires='>=3.10',
    install_requires=read_requirements('requirements.txt'),
    extras_require=dict(dev=read_requirements('requirements-dev.txt')),
)

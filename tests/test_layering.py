"""The package's layers (docs/development.md): a module imports poa_mm only
from its own layer and the ones below, and at the top of the file."""
import ast
import os
import os.path as osp

import pytest

ROOT = osp.join(osp.dirname(__file__), '..', 'poa_mm')
LAYERS = ['utils', 'fileio', 'version', 'layers', 'elastic', 'datasets',
          'models', 'evaluation', 'engine', 'apis', 'cli']
# Layers whose modules share one level (neither imports the other's).
LEVEL = {name: i for i, name in enumerate(LAYERS)}
LEVEL.update(layers=LEVEL['elastic'], version=LEVEL['utils'],
             fileio=LEVEL['utils'])


def modules():
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                yield osp.relpath(path, ROOT), path


def layer_of(module: str) -> str:
    """'elastic/vit.py' -> 'elastic'; 'fileio.py' -> 'fileio'."""
    return module.split(os.sep)[0].removesuffix('.py')


def poa_imports(module: str, tree):
    """(imported top-level poa_mm layer, node) for every import of the
    package, relative ones resolved."""
    package = module.split(os.sep)[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + (node.module.split('.') if node.module
                                 else [])
                if not target:  # from . import x (the package root)
                    yield from ((a.name, node) for a in node.names)
                    continue
                yield target[0], node
            elif node.module and node.module.split('.')[0] == 'poa_mm':
                parts = node.module.split('.')
                if len(parts) > 1:
                    yield parts[1], node
                else:
                    yield from ((a.name, node) for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split('.')
                if parts[0] == 'poa_mm' and len(parts) > 1:
                    yield parts[1], node


@pytest.mark.parametrize('module, path', sorted(modules()))
def test_imports_go_down_and_sit_at_the_top(module, path):
    if module == '__init__.py':
        return  # the package root imports every layer to register them
    tree = ast.parse(open(path).read())
    top = {id(n) for n in tree.body}
    own = LEVEL[layer_of(module)]
    for target, node in poa_imports(module, tree):
        assert target in LEVEL, f'{module}: unknown layer {target}'
        assert LEVEL[target] <= own, \
            f'{module} (layer {layer_of(module)}) imports {target}'
        assert id(node) in top, \
            f'{module}:{node.lineno} imports poa_mm inside a function'

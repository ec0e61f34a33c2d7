"""For tests: a script of the repository (tools/, benchmarks/) as a module,
so its functions run in-process."""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))


def load_script(relpath: str) -> ModuleType:
    """``relpath`` (e.g. ``tools/train.py``) executed as a fresh module,
    with its folder on ``sys.path`` as when Python runs it (its sibling
    imports, e.g. ``benchmarks/common.py``)."""
    folder = osp.dirname(osp.join(ROOT, relpath))
    if folder not in sys.path:
        sys.path.append(folder)
    name = osp.splitext(osp.basename(relpath))[0] + '_script'
    spec = importlib.util.spec_from_file_location(name,
                                                  osp.join(ROOT, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exit_message(main, argv) -> str:
    """What ``main(argv)`` exits with (it must exit): the message or code."""
    import pytest
    with pytest.raises(SystemExit) as info:
        main(argv)
    return str(info.value.code)


def one_line_error(main, argv) -> str:
    """:func:`exit_message`, which must be one line starting 'error: '."""
    message = exit_message(main, argv)
    assert message.startswith('error: ') and '\n' not in message, message
    return message

"""Checks of settings that arrive as plain config data (untyped dicts,
numbers from ``--cfg-options``): one-line ``ValueError`` instead of a
silently ignored typo or a failure deep inside a step."""
import difflib
import numbers
from typing import Any, Iterable


class SettingError(ValueError):
    """A setting that is refused (tools print it as one line)."""


def one_line(error: Exception) -> str:
    """The exception's own message, also when a DataLoader worker wrapped
    it in its traceback text (the message is then the last line)."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    name = f'{type(error).__name__}: '
    return lines[-1].split(name, 1)[1] if name in lines[-1] else lines[-1]


def did_you_mean(key: str, choices: Iterable[str]) -> str:
    """'; did you mean X?' with the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(key, list(choices), 1)
    return f'; did you mean {close[0]!r}?' if close else ''


def check_keys(where: str, given: Iterable[str],
               known: Iterable[str]) -> None:
    """``SettingError`` naming the first key of ``given`` not in ``known``,
    with the closest known key as a hint."""
    known = list(known)
    for key in given:
        if key not in known:
            raise SettingError(f'{where}: unknown setting {key!r} (known: '
                               f'{", ".join(known)})'
                               + did_you_mean(key, known))


def check_number(where: str, value, low: float = None, high: float = None,
                 low_open: bool = False) -> float:
    """``value`` as a float if it is a real number in ``[low, high]``
    (``(low, high]`` with ``low_open``), else ``SettingError``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = ('' if low is None and high is None else
                  f' in {"(" if low_open else "["}{low}, {high}]'
                  if high is not None else
                  f' {">" if low_open else ">="} {low}')
        raise SettingError(f'{where} must be a number{bounds}, got {value!r}')
    return float(value)


PLAIN_SCALARS = (str, int, float, bool, type(None))


def check_plain(obj: Any, where: str) -> None:
    """Raise ``ValueError`` unless ``obj`` is plain data: str / int / float
    / bool / None, lists and tuples of plain data, dicts whose keys are
    Python identifiers. What goes into a generated config must be this."""
    if isinstance(obj, PLAIN_SCALARS):
        return
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            check_plain(item, f'{where}[{i}]')
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not (isinstance(key, str) and key.isidentifier()):
                raise ValueError(f'{where} has a key that is not a plain '
                                 f'name: {key!r}')
            check_plain(value, f'{where}.{key}')
        return
    raise ValueError(f'{where} is not plain data: {type(obj).__name__}')

"""One error style for every tool: a refusal or a failed file operation is
one line (``error: ...``, exit status 1), never a traceback."""
import functools
import sys

from ..utils import one_line


def describe(error: Exception) -> str:
    """The one line a user reads for ``error``: an ``OSError`` as 'what:
    path' (a read-only or full disk, a missing folder), else its message
    (also when a DataLoader worker wrapped it in its traceback text)."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f'{error.strerror}: {error.filename}'
    return one_line(error)


def one_line_errors(main):
    """Decorate a tool's ``main``: ``ValueError`` (refusals, ``SettingError``
    included) and ``OSError`` (``FileNotFoundError``, a read-only or full
    disk) end the tool with one line."""
    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except (ValueError, OSError) as e:
            sys.exit(f'error: {describe(e)}')
    return wrapped


__all__ = ['describe', 'one_line_errors']

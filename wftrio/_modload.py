"""Load the user's module named on a command line: ``module.name`` or ``path/FILE.py``.

One loader for every command that takes user code (``wftrio run/graph/validate``,
``wftrio serve --workflows``, ``wftrio show --workflow``), so they all accept
the same spellings and fail with the same one-line :class:`~wftrio.errors.CliError`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from wftrio.errors import CliError

__all__ = ["load_module"]


def load_module(spec: str, flag: str = "") -> ModuleType:
    """Import ``spec``: a dotted module name, or a ``.py`` file by path.

    A file is run like ``python FILE``: its folder is importable while it
    loads, and it is registered in :data:`sys.modules` under its stem (so
    that dataclasses, attrs and pickling find their module), unless that
    name already belongs to another module.  Any failure, including an
    exception raised by the user's code, becomes a one-line
    :class:`~wftrio.errors.CliError` (prefixed with ``flag``, e.g.
    ``"--workflows "``) instead of a traceback.
    """
    try:
        if spec.endswith(".py") or "/" in spec:
            return _load_file(Path(spec), flag)
        return importlib.import_module(spec)
    except CliError:
        raise
    except Exception as exc:  # user code: one line, not a traceback
        raise CliError(f"{flag}cannot load {spec!r}: {type(exc).__name__}: {exc}") from exc


def _load_file(path: Path, flag: str) -> ModuleType:
    if not path.is_file():
        raise CliError(f"{flag}no such file: {path}")
    name = path.stem
    held = sys.modules.get(name)
    if held is not None and getattr(held, "__file__", None) != str(path.resolve()):
        name = f"_wftrio_user_{abs(hash(str(path.resolve())))}_{path.stem}"
    mspec = importlib.util.spec_from_file_location(name, path.resolve())
    if mspec is None or mspec.loader is None:
        raise CliError(f"{flag}cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(mspec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.resolve().parent))
    try:
        mspec.loader.exec_module(module)
    except BaseException:
        if sys.modules.get(name) is module:
            del sys.modules[name]
        raise
    finally:
        sys.path.pop(0)
    return module

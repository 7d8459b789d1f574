"""The layers of docs/ARCHITECTURE.md hold at import time.

The static check is import-linter (``lint-imports``, contracts in
pyproject.toml, run by ``.ci/run``); these tests check what a user sees: the
lower layers load in a fresh interpreter without trio or anything above
them, and every exception lives in the one leaf module ``wftrio.errors``.
"""

from __future__ import annotations

import inspect
import json
import pkgutil
import subprocess
import sys

import pytest

import wftrio
import wftrio.errors

# what importing each lower layer may load; nothing of trio, the runtime or a surface
_FORBIDDEN = ("trio", "trio_util", "wftrio.runtime", "wftrio.cli", "wftrio.console")

_PROBE = """
import json, sys
import {module}
prefixes = ("trio.", "trio_util", "wftrio.")
print(json.dumps(sorted(m for m in sys.modules if m == "trio" or m.startswith(prefixes))))
"""


def _loaded_by(module: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    loaded: list[str] = json.loads(out)
    return loaded


@pytest.mark.parametrize(
    "module",
    [
        "wftrio.errors",
        "wftrio.terms",
        "wftrio.patterns",
        "wftrio.compiler",
        "wftrio.engine",
        "wftrio.registry",
    ],
)
def test_lower_layers_load_without_trio(module: str) -> None:
    loaded = _loaded_by(module)
    bad = [m for m in loaded if m.startswith(_FORBIDDEN) or m == "trio"]
    assert bad == [], f"import {module} loaded {bad}"


def test_errors_is_a_leaf() -> None:
    assert _loaded_by("wftrio.errors") == ["wftrio.errors"]


def test_top_level_names_resolve_lazily() -> None:
    for name in wftrio.__all__:
        assert getattr(wftrio, name) is not None, name
    assert set(wftrio.__all__) <= set(dir(wftrio))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = wftrio.nope  # type: ignore[attr-defined]


def test_wf_validate_is_the_function_after_the_validation_package_loads() -> None:
    import wftrio.validation

    assert callable(wftrio.validate)
    assert wftrio.validate is wftrio.validation.validate


def _all_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(wftrio.__path__, "wftrio.")
        if not m.name.startswith("wftrio.testing") and not m.name.endswith("__main__")
    )


def test_every_exception_is_defined_in_errors() -> None:
    import importlib

    import wftrio.testing  # noqa: F401  (hypothesis is a test dependency)

    stray = []
    for name in [*_all_modules(), "wftrio.testing.strategies", "wftrio.testing.driver"]:
        mod = importlib.import_module(name)
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if (
                issubclass(obj, wftrio.errors.WftrioError)
                and obj.__module__ == name
                and name != "wftrio.errors"
            ):
                stray.append(f"{name}.{obj.__qualname__}")
    # testing's InvalidArgument too: errors.py builds it on first use
    assert stray == []


def test_every_public_error_derives_from_the_root() -> None:
    for name in wftrio.errors.__all__:
        cls = getattr(wftrio.errors, name)
        if name == "InjectedFault":  # stands for a failure of user code, on purpose
            assert not issubclass(cls, wftrio.errors.WftrioError)
            continue
        assert issubclass(cls, wftrio.errors.WftrioError), name

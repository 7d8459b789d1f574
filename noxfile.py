"""Developer sessions: ``nox -s tests lint typecheck docs bench examples``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True

EXAMPLES = sorted(str(p) for p in Path("examples").glob("[!_]*.py"))


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """Run the whole test suite."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "wftrio", "tests", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "wftrio", "tests", "examples", "noxfile.py")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "wftrio")


@nox.session(python="3.11")
def docs(session: nox.Session) -> None:
    """Build the documentation site with mkdocs in strict mode (into ``site/``)."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The benchmark table (``python -m wftrio.bench``; ``nox -s bench -- --compare base.json``)."""
    session.install("-e", ".")
    session.run("python", "-m", "wftrio.bench", *session.posargs)


@nox.session(python="3.11")
def examples(session: nox.Session) -> None:
    """Run every example script."""
    session.install("-e", ".")
    for ex in EXAMPLES:
        if ex.endswith("durable_order.py"):
            # it waits for its payment: pay it in the same run, on a fresh file
            with tempfile.TemporaryDirectory() as tmp:
                session.run("python", ex, "--db", f"{tmp}/cases.db", "--pay", "30")
        else:
            session.run("python", ex)
        session.run("wftrio", "run", ex)


@nox.session(python="3.11")
def screenshots(session: nox.Session) -> None:
    """Regenerate docs/img/console-*.png: the web console in headless Chromium.

    Needs the distribution's browser (``apt-get install chromium chromium-driver``).
    """
    session.install("-e", ".[test]")
    session.run("python", "tools/console_screenshots.py", "docs/img")

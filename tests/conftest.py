"""Shared fixtures and hypothesis profiles.

``ci`` (the default) keeps the suite quick; ``deep`` (select it with
``WFTRIO_HYPOTHESIS=deep``) runs ten times as many examples to hunt bugs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=600, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("WFTRIO_HYPOTHESIS", "ci"))


# -- PostgreSQL (docs/SCALING.md): a throwaway server per test session --------

import collections.abc  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def pg_server() -> collections.abc.Iterator[object]:
    """A throwaway PostgreSQL server (initdb + pg_ctl in a temp dir); fails if it cannot start."""
    from wftrio.stores._pgserver import PgServer

    srv = PgServer().start()  # raises (the test fails) without a server: never skipped
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def pg_dsn(pg_server: object) -> str:
    """The DSN of a new, empty database on the session's server."""
    from wftrio.stores._pgserver import PgServer

    assert isinstance(pg_server, PgServer)
    return pg_server.create_database()

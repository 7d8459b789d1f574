"""A throwaway PostgreSQL server for tests and the bench (not for production).

``PgServer`` runs ``initdb`` and ``pg_ctl`` from the distribution's
packages (``/usr/lib/postgresql/*/bin``, or ``pg_config --bindir``) in a
temporary directory, listening on a free loopback port, with ``fsync``
off.  Run as root (CI containers), it runs them as the ``postgres`` user
(``runuser``), since the server refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from types import TracebackType

from wftrio.errors import StoreError

__all__ = ["PgServer", "find_bindir"]


def find_bindir() -> str:
    """The directory holding ``initdb`` and ``pg_ctl``.

    Raises:
        StoreError: no PostgreSQL server is installed.
    """
    cands: list[str] = []
    pgc = shutil.which("pg_config")
    if pgc is not None:
        try:
            out = subprocess.run([pgc, "--bindir"], capture_output=True, text=True, check=True)
            cands.append(out.stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            pass
    cands += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in cands:
        if os.path.isfile(os.path.join(d, "initdb")) and os.path.isfile(os.path.join(d, "pg_ctl")):
            return d
    found = shutil.which("initdb")
    if found is not None:
        return os.path.dirname(found)
    raise StoreError(
        "no PostgreSQL server found (initdb, pg_ctl): install the distribution's postgresql package"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A PostgreSQL server in a temporary directory; ``with PgServer() as srv: srv.dsn``.

    Attributes:
        dsn: the DSN of its ``postgres`` database (user ``postgres``, trust auth).
        port: its loopback port.
    """

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = _free_port()
        self.dir = ""
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            log = os.path.join(self.dir, "log")
            tail = open(log).read()[-2000:] if os.path.exists(log) else ""  # noqa: SIM115
            raise StoreError(
                f"{' '.join(args[:2])} failed ({res.returncode}): {res.stderr.strip()} {tail}"
            )

    def start(self) -> PgServer:
        """Create the cluster and start the server (waits until it accepts connections).

        Raises:
            StoreError: it could not be created or started.
        """
        self.dir = tempfile.mkdtemp(prefix="wftrio-pg-")
        os.chmod(self.dir, 0o755)
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        data = os.path.join(self.dir, "data")
        b = self.bindir
        self._run(f"{b}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-N", "-E", "UTF8")
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(f"{b}/pg_ctl", "-D", data, "-o", opts, "-l", f"{self.dir}/log", "-w", "start")
        return self

    def create_database(self) -> str:
        """A new empty database; its DSN."""
        import psycopg

        name = "wf_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        if not self.dir:
            return
        try:
            self._run(f"{self.bindir}/pg_ctl", "-D", f"{self.dir}/data", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = ""

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

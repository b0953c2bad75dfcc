"""The test suite on PostgreSQL: a database per test, copied from a migrated template.

``LIVELITE_TEST_DATABASE_URL`` names a server (scripts/postgres.sh starts one and prints
it); unset, the suite runs on SQLite files. Names carry the pid of the pytest process
(one per xdist worker), so several runs can share one server; databases of runs that
died are dropped by the next run.
"""

from __future__ import annotations

import itertools
import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from livelite.database import normalise_url

SERVER_URL = os.environ.get("LIVELITE_TEST_DATABASE_URL") or None
ON_POSTGRES = SERVER_URL is not None
PREFIX = "livelite_test_"

only_sqlite = pytest.mark.skipif(ON_POSTGRES, reason="about SQLite itself (runs in the SQLite pass)")
only_postgres = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs PostgreSQL: LIVELITE_TEST_DATABASE_URL (scripts/postgres.sh)"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PostgresDatabases:
    """Creates and drops this process's databases on the server (outside transactions:
    CREATE DATABASE refuses to run in one)."""

    def __init__(self, server_url: str):
        self.server_url = make_url(normalise_url(server_url))
        self.engine: Engine = create_engine(self.server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self._numbers = itertools.count(1)
        self.prefix = f"{PREFIX}{os.getpid()}_"

    def url(self, name: str) -> str:
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(sql))

    def _names(self, prefix: str) -> list[str]:
        with self.engine.connect() as conn:
            return [n for n in conn.scalars(text("SELECT datname FROM pg_database")) if n.startswith(prefix)]

    def drop_stale(self) -> None:
        """Drop the databases of test runs whose process is gone (killed, crashed)."""
        for name in self._names(PREFIX):
            pid = name[len(PREFIX) :].split("_", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                self.drop(name)

    def new_name(self) -> str:
        return f"{self.prefix}{next(self._numbers)}"

    def create(self, name: str, template: str | None = None) -> str:
        """An empty database, or a copy of ``template`` (a file copy: fast, and the
        template's tables, sequences and rows come along)."""
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        self._execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop(self, name: str) -> None:
        """Drop it even if a connection was left open (a thread of the app still running)."""
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_mine(self) -> None:
        for name in self._names(self.prefix):
            self.drop(name)
        self.engine.dispose()

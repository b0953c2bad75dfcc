"""The PostgreSQL side of the database setup (SQLite's pragmas are in ``create_app``).

LiveLite runs on SQLite by default and on PostgreSQL when ``DATABASE_URL`` (or
``SQLALCHEMY_DATABASE_URI``) names a server; the driver is psycopg 3.
"""

from __future__ import annotations

import sys

POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` (what hosting services hand out) mean psycopg 3:
    without a driver name SQLAlchemy would look for psycopg2, which we do not install."""
    for scheme in POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def postgres_connect_args(config) -> dict:
    """Connection settings for PostgreSQL, the counterpart of SQLite's busy timeout: a
    server that does not answer, or a row lock held by someone else, ends in an error
    after a few seconds instead of a request that hangs for ever."""
    lock_ms = int(config["POSTGRES_LOCK_TIMEOUT_MS"])
    return {
        "connect_timeout": max(1, round(config["DATABASE_CONNECT_TIMEOUT_SECONDS"])),
        "options": f"-c lock_timeout={lock_ms}",
    }


def make_psycopg_cooperative() -> bool:
    """Under eventlet, make psycopg wait for the server in a way eventlet can switch away.

    psycopg's default wait function is C code (``wait_c``) that polls the socket itself:
    eventlet's patched ``select`` never sees it, so one slow query would freeze every
    green thread of the process (psycopg detects gevent's patching, not eventlet's:
    psycopg/psycogreen#9, psycopg/psycopg#527). ``wait_select`` calls ``select.select``
    at each wait, which eventlet has made green; ``wait_conn`` (connecting) uses the
    selector class psycopg imported, replaced here by the green one. Returns whether it
    applied (it does nothing when eventlet has not patched the standard library).
    """
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is None or not patcher.is_monkey_patched("socket"):
        return False
    import selectors

    from psycopg import waiting

    waiting.wait = waiting.wait_select
    waiting.DefaultSelector = selectors.DefaultSelector
    return True

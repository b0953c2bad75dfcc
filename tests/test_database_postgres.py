"""PostgreSQL through ``DATABASE_URL``: the driver chosen, the timeouts set on every
connection, and psycopg waiting cooperatively under eventlet as the server runs.

The tests that need a server run in the PostgreSQL pass (LIVELITE_TEST_DATABASE_URL,
scripts/postgres.sh) and are skipped in the SQLite one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from factories import make_admin, make_token, make_user
from postgres_support import only_postgres
from sqlalchemy import text, update
from sqlalchemy.exc import OperationalError

from livelite import create_app
from livelite.database import normalise_url
from livelite.extensions import db
from livelite.models import AccountKind, Role, TransactionType, User
from livelite.services import ledger

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db.example:5432/live", "postgresql+psycopg://u:p@db.example:5432/live"),
        (
            "postgresql://u@db.example/live?sslmode=require",
            "postgresql+psycopg://u@db.example/live?sslmode=require",
        ),
        ("postgresql+psycopg://u@db.example/live", "postgresql+psycopg://u@db.example/live"),
        ("sqlite:////var/lib/livelite/livelite.db", "sqlite:////var/lib/livelite/livelite.db"),
    ],
)
def test_database_urls_name_psycopg_3(given, used):
    assert normalise_url(given) == used


def test_database_url_from_the_environment_uses_psycopg_with_timeouts(monkeypatch, tmp_path):
    """No connection is made: the engine is only configured."""
    monkeypatch.setenv("DATABASE_URL", "postgres://live@db.example/livelite")
    monkeypatch.setenv("LIVELITE_POSTGRES_LOCK_TIMEOUT_MS", "2500")
    app = create_app({"INSTANCE_PATH": tmp_path, "SOCKETIO_ASYNC_MODE": "threading"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://live@db.example/livelite"
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg"
        db.engine.dispose()
    connect_args = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]
    assert connect_args == {"connect_timeout": 10, "options": "-c lock_timeout=2500"}
    assert not (tmp_path / "livelite.db").exists()


@only_postgres
def test_every_connection_has_the_lock_timeout(make_app):
    app = make_app(POSTGRES_LOCK_TIMEOUT_MS=1500)
    with app.app_context():
        assert db.session.scalar(text("SHOW lock_timeout")) == "1500ms"
        with db.engine.connect() as one, db.engine.connect() as two:
            for conn in (one, two):
                assert conn.scalar(text("SHOW lock_timeout")) == "1500ms"


@only_postgres
def test_a_row_locked_by_another_transaction_fails_after_the_lock_timeout(make_app):
    """The PostgreSQL counterpart of SQLite's busy timeout: waiting for a lock ends in an
    error (the request's 500 or retry) instead of a request that hangs for ever."""
    app = make_app(POSTGRES_LOCK_TIMEOUT_MS=300)
    with app.app_context():
        make_admin()
        user_id = make_user("bob").id
        db.session.commit()
        holder_locked = threading.Event()
        release = threading.Event()

        def hold_the_row():
            with app.app_context(), db.engine.begin() as conn:
                conn.execute(update(User).where(User.id == user_id).values(display_name="Held"))
                holder_locked.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_row)
        holder.start()
        try:
            assert holder_locked.wait(10)
            started = time.monotonic()
            with pytest.raises(OperationalError, match="lock timeout"):
                db.session.execute(update(User).where(User.id == user_id).values(display_name="Mine"))
            waited = time.monotonic() - started
            db.session.rollback()
        finally:
            release.set()
            holder.join(10)
        assert 0.25 < waited < 3
        assert db.session.get(User, user_id).display_name == "Held"


COOPERATION_SCRIPT = r"""
import eventlet
eventlet.monkey_patch()
import json, time, warnings
warnings.filterwarnings("ignore")
import psycopg.waiting
from sqlalchemy import text
from livelite import create_app
from livelite.extensions import db

app = create_app({"SOCKETIO_ASYNC_MODE": "eventlet"})
ticks = []
done = eventlet.event.Event()

def ticker():
    while not done.ready():
        ticks.append(time.monotonic())
        eventlet.sleep(0.02)

def slow_query():
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # connected before the clock starts
        started = time.monotonic()
        db.session.execute(text("SELECT pg_sleep(0.5)"))
        ended = time.monotonic()
        db.session.remove()
    done.send()
    return started, ended

tick_thread = eventlet.spawn(ticker)
started, ended = eventlet.spawn(slow_query).wait()
tick_thread.wait()
print(json.dumps({
    "wait": psycopg.waiting.wait.__name__,
    "query_seconds": ended - started,
    "ticks_during_query": sum(started < t < ended for t in ticks),
}), flush=True)
"""


@only_postgres
def test_a_slow_query_lets_other_green_threads_run_under_eventlet(app):
    """The server runs on eventlet: while one green thread waits for PostgreSQL, the
    others (chat, viewer counts, every other request) must go on. With psycopg's C wait
    function the ticker would not move for the whole half second."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVELITE_")}
    env.pop("DATABASE_URL", None)
    # The instance's config.py names the test's database (tests/conftest.py make_app).
    env["LIVELITE_INSTANCE_PATH"] = app.instance_path
    result = subprocess.run(
        [sys.executable, "-c", COOPERATION_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["wait"] == "wait_select"
    assert found["query_seconds"] >= 0.45
    # A tick every 20 ms: about 25 in half a second, none if the hub were blocked.
    assert found["ticks_during_query"] >= 10, found


@only_postgres
def test_postings_that_share_accounts_in_another_order_do_not_deadlock(make_app, monkeypatch):
    """PostgreSQL locks each account row a posting updates until the commit. Two gifts to
    one host, split differently between the host and the platform (a 2-coin and a
    5-coin gift at a 60 % share), must not lock those two rows in opposite orders: each
    would wait for the other until the server killed one as a deadlock."""
    app = make_app()
    with app.app_context():
        make_admin()
        ann, ben = make_user("ann"), make_user("ben")
        host = make_user("host", role=Role.CREATOR)
        for sender in (ann, ben):
            ledger.post(
                TransactionType.GRANT,
                [
                    ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -10),
                    ledger.Leg(ledger.account_id(AccountKind.COINS, sender), 10),
                ],
                key=f"grant:{sender.id}",
                reference="test",
            )
        host_id = host.id
        diamonds = ledger.account_id(AccountKind.DIAMONDS, host)
        revenue = ledger.account_id(AccountKind.PLATFORM_REVENUE)
        postings = {
            "ann": [
                ledger.Leg(ledger.account_id(AccountKind.COINS, ann), -2),
                ledger.Leg(diamonds, 1),
                ledger.Leg(revenue, 1),
            ],
            "ben": [
                ledger.Leg(ledger.account_id(AccountKind.COINS, ben), -5),
                ledger.Leg(diamonds, 3),
                ledger.Leg(revenue, 2),
            ],
        }
        db.session.commit()

    # Both postings pause after their first credit until the other got there too (or
    # for a second, when the other is waiting for a row this one holds).
    both_credited = threading.Barrier(2)
    move = ledger._move

    def move_then_meet(leg):
        move(leg)
        if leg.amount > 0 and not getattr(paused, "done", False):
            paused.done = True
            try:
                both_credited.wait(timeout=1)
            except threading.BrokenBarrierError:
                pass

    paused = threading.local()
    monkeypatch.setattr(ledger, "_move", move_then_meet)
    outcomes = {}

    def gift(name):
        with app.app_context():
            try:
                ledger.post(TransactionType.GIFT, postings[name], key=f"gift:{name}", reference="test")
                db.session.commit()
                outcomes[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - a deadlock is what the test looks for
                db.session.rollback()
                outcomes[name] = repr(exc)

    threads = [threading.Thread(target=gift, args=(name,)) for name in postings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == {"ann": "ok", "ben": "ok"}
    with app.app_context():
        assert ledger.balance(host_id, AccountKind.DIAMONDS) == 4
        assert ledger.check() == []


@only_postgres
def test_what_postgresql_refuses_from_a_client_is_a_400_not_a_500(app, client):
    """SQLite takes a NUL character in a text and compares any 64-bit number with an
    id; PostgreSQL refuses both (ids are 32-bit there). Whatever the code path that lets
    one through, the client is told its request was wrong and the server goes on."""
    with app.app_context():
        secret = make_token(make_admin(), ["read", "write"])
    bearer = {"Authorization": f"Bearer {secret}"}

    response = client.get("/api/v1/admin/users", query_string={"q": "ad\x00min"}, headers=bearer)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "The request could not be understood."

    response = client.post("/api/v1/notifications/read", json={"ids": [2**40]}, headers=bearer)
    assert response.status_code == 400

    assert client.get("/api/v1/admin/users", query_string={"q": "admin"}, headers=bearer).status_code == 200

"""A database held by another writer (lock contention): a write waits for the lock up to
the timeout and then goes through; past the timeout the client is told the site is busy
(503 with Retry-After on HTTP, a ``busy`` acknowledgement on Socket.IO), nothing of the
request is kept, and the same request succeeds once the lock is released.

The lock is taken by a second connection to the real database, as another process
would: SQLite's write lock (``BEGIN IMMEDIATE``) or a PostgreSQL table lock.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from factories import make_token
from pages import find_form
from room_chat_support import join, login, make_site, received, start

from livelite.extensions import db
from livelite.models import ChatMessage, Follow, User
from livelite.services import accounts


@contextlib.contextmanager
def write_lock(app, table: str):
    """Hold a write lock on ``table`` from a connection of its own until the block ends."""
    with app.app_context():
        engine = db.engine
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")  # the whole file: SQLite has one writer
        else:
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        yield
    finally:
        connection.rollback()
        connection.close()


@pytest.fixture
def busy_app(make_app):
    """Lock waits of 0.3 s, so that a held lock makes the request fail quickly."""
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=300, POSTGRES_LOCK_TIMEOUT_MS=300)
    with app.app_context():
        make_site()
    return app


def count_messages(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(ChatMessage))


def test_a_chat_message_past_the_lock_timeout_is_refused_as_busy_and_kept_for_a_retry(busy_app):
    live_id = start(busy_app)
    viewer = join(busy_app, live_id, "stranger")
    other = join(busy_app, live_id, "third")
    received(other, "chat")
    with write_lock(busy_app, "chat_messages"):
        ack = viewer.emit("chat_send", {"body": "while locked"}, namespace="/live", callback=True)
    assert ack["ok"] is False and ack["code"] == "busy" and ack["retry_after"] > 0
    assert "busy" in ack["error"]
    assert count_messages(busy_app) == 0
    assert received(other, "chat") == []  # nothing was broadcast either
    # The same connection goes on, and the retry is kept and broadcast.
    ack = viewer.emit("chat_send", {"body": "while locked"}, namespace="/live", callback=True)
    assert ack["ok"] is True
    assert [m["body"] for m in received(other, "chat")] == ["while locked"]
    assert count_messages(busy_app) == 1


def test_a_write_waits_for_a_short_lock_and_goes_through(make_app):
    app = make_app()  # the default timeouts: 5 s
    with app.app_context():
        make_site()
    live_id = start(app)
    viewer = join(app, live_id, "stranger")
    released = threading.Event()

    def hold_briefly():
        with write_lock(app, "chat_messages"):
            locked.set()
            time.sleep(0.5)
        released.set()

    locked = threading.Event()
    holder = threading.Thread(target=hold_briefly)
    holder.start()
    locked.wait(5)
    ack = viewer.emit("chat_send", {"body": "patient"}, namespace="/live", callback=True)
    holder.join()
    assert released.is_set()
    assert ack["ok"] is True
    assert count_messages(app) == 1


def test_an_api_write_past_the_lock_timeout_is_503_with_retry_after(busy_app):
    with busy_app.app_context():
        secret = make_token(accounts.get_by_username("stranger"), ("read", "write"))
    client = busy_app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    with write_lock(busy_app, "users"):
        response = client.patch("/api/v1/me", json={"display_name": "Renamed"}, headers=headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "busy" in response.get_json()["error"]["message"]
    with busy_app.app_context():
        assert db.session.scalar(db.select(User.display_name).where(User.username == "stranger")) != "Renamed"
    response = client.patch("/api/v1/me", json={"display_name": "Renamed"}, headers=headers)
    assert response.status_code == 200
    with busy_app.app_context():
        assert db.session.scalar(db.select(User.display_name).where(User.username == "stranger")) == "Renamed"


def test_a_page_write_past_the_lock_timeout_shows_the_busy_page(busy_app):
    browser = login(busy_app, "stranger")
    page = browser.get("/@maker")
    form = find_form(page.get_data(as_text=True), "/@maker/follow")
    with write_lock(busy_app, "follows"):
        response = browser.post("/@maker/follow", data=form.values())
    assert response.status_code == 503
    assert "busy" in response.get_data(as_text=True)
    with busy_app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count()).select_from(Follow).where(Follow.follower_id == _id("stranger"))
            )
            == 0
        )
    assert browser.post("/@maker/follow", data=form.values()).status_code == 302
    with busy_app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count()).select_from(Follow).where(Follow.follower_id == _id("stranger"))
            )
            == 1
        )


def _id(username: str) -> int:
    return accounts.get_by_username(username).id

"""Helpers for the live room's chat, hearts and moderation tests (Socket.IO /live).

Flask-SocketIO's test client drives the real handlers on the real SQLite database; the
Flask test client passed to it carries the logged-in session.
"""

from __future__ import annotations

from datetime import timedelta

from factories import PASSWORD, make_admin, make_user
from pages import submit

from livelite.extensions import db, socketio
from livelite.models import GuestStatus, LiveGuest, Moderator, Role
from livelite.models.base import utcnow
from livelite.services import accounts, lives

INJECTIONS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg/onload=alert(1)>',
    "{{ 7*7 }} {% raw %}",
    "' OR 1=1 --",
    "javascript:alert(1)",
]


def make_site() -> None:
    """In an app context: the admin (siteadmin), a host (maker) with a follower (fan),
    a moderator (mod), viewers (stranger, third), someone to put on stage (onstage),
    and a creator with lives of their own (other)."""
    make_admin()
    maker = make_user("maker", role=Role.CREATOR)
    make_user("other", role=Role.CREATOR)
    for name in ("stranger", "third", "onstage"):
        make_user(name)
    accounts.follow(make_user("fan"), maker)
    mod = make_user("mod")
    db.session.add(Moderator(host_id=maker.id, user_id=mod.id))
    db.session.commit()


def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def start(app, host: str = "maker", visibility: str = "public") -> int:
    with app.app_context():
        return lives.start_live(accounts.get_by_username(host), title="Live", visibility=visibility).id


def join(app, live_id: int, username: str | None = None, browser=None):
    """A connection to the live's room as ``username`` (None: a visitor), or with the
    given logged-in ``browser`` (a second tab of the same person)."""
    if browser is None:
        browser = login(app, username) if username else app.test_client()
    client = socketio.test_client(
        app, namespace="/live", flask_test_client=browser, auth={"live_id": live_id}
    )
    assert client.is_connected("/live")
    return client


def received(client, event: str) -> list[dict]:
    return [m["args"][0] for m in client.get_received("/live") if m["name"] == event]


def received_before_close(client, event: str) -> list[dict]:
    """What a connection the server has closed got before (get_received refuses it)."""
    assert not client.is_connected("/live")
    return [m["args"][0] for m in client.queue if m["namespace"] == "/live" and m["name"] == event]


def events_of(client) -> list[tuple[str, dict]]:
    return [(m["name"], m["args"][0] if m["args"] else None) for m in client.get_received("/live")]


def room_state(client) -> dict:
    (state,) = received(client, "room_state")
    return state


def drain(*clients) -> None:
    for client in clients:
        client.get_received("/live")


def send(client, event: str, payload=None) -> dict:
    if payload is None:
        return client.emit(event, namespace="/live", callback=True)
    return client.emit(event, payload, namespace="/live", callback=True)


def chat(client, body) -> dict:
    return send(client, "chat_send", {"body": body})


def user_id(app, username: str) -> int:
    with app.app_context():
        return accounts.get_by_username(username).id


def put_on_stage(app, live_id: int, username: str) -> None:
    with app.app_context():
        db.session.add(
            LiveGuest(
                live_id=live_id, user_id=accounts.get_by_username(username).id, status=GuestStatus.ACTIVE
            )
        )
        db.session.commit()


class Clock:
    """Time moved by hand: wall-clock for the services, monotonic for the rate limiter."""

    def __init__(self):
        self.now = utcnow()
        self.seconds = 0.0

    def __call__(self):
        return self.now

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.seconds += seconds

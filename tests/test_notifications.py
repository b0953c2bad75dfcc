"""Notifications: who gets what, never twice, the bell over Socket.IO, the page, the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_admin, make_token, make_user
from pages import submit, text_of
from sqlalchemy import select

from livelite.extensions import db, socketio
from livelite.models import Notification, Role, User
from livelite.models.base import utcnow
from livelite.services import accounts, events, notifications


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def kinds(username: str) -> list[str]:
    user = get(username)
    return [row.kind for row in notifications.latest(user)]


@pytest.fixture
def site(app):
    with app.app_context():
        make_admin()
        make_user("carla", role=Role.CREATOR)
        for name in ("fred", "gina", "hugo"):
            make_user(name)
    return app


def test_a_follow_notifies_once_however_often_it_is_repeated(site):
    with site.app_context():
        accounts.follow(get("fred"), get("carla"))
        accounts.unfollow(get("fred"), get("carla"))
        accounts.follow(get("fred"), get("carla"))
        assert kinds("carla") == ["new_follower"]
        (row,) = notifications.latest(get("carla"))
        assert notifications.describe(row) == "Fred started following you."


def test_live_start_reaches_followers_and_rsvps_once_and_not_the_host(site):
    with site.app_context():
        accounts.follow(get("fred"), get("carla"))
        event = events.create_event(
            get("carla"), title="Class", starts_at=utcnow() + timedelta(minutes=5), duration_minutes=60
        )
        events.rsvp(event, get("gina"))
        events.rsvp(event, get("fred"))  # follower and RSVP: still one notification
        live = events.go_live(event, get("carla"))
        notifications.live_started(live)  # a retry or a second process: nothing new
        assert kinds("fred") == ["live_started"]
        assert kinds("gina") == ["live_started"]
        assert kinds("hugo") == []
        assert [k for k in kinds("carla") if k == "live_started"] == []
        (row,) = notifications.latest(get("gina"))
        assert row.live_id == live.id and notifications.describe(row) == "Carla is LIVE: Class"


def test_event_edits_and_cancel_reach_rsvps_once_per_change(site):
    with site.app_context():
        event = events.create_event(
            get("carla"), title="Class", starts_at=utcnow() + timedelta(days=2), duration_minutes=60
        )
        events.rsvp(event, get("gina"))
        for _ in range(2):
            events.update_event(
                event,
                get("carla"),
                title="Class",
                description="",
                starts_at=event.starts_at,
                duration_minutes=90,
            )
        events.cancel_event(event, get("carla"))
        events.cancel_event(event, get("carla"))  # already cancelled: nothing new
        assert kinds("gina") == ["event_cancelled", "event_changed", "event_changed"]
        assert kinds("fred") == []
        assert notifications.describe(notifications.latest(get("gina"))[0]) == "“Class” was cancelled."


def test_the_page_shows_the_count_opens_and_marks_read(site, client, auth):
    with site.app_context():
        accounts.follow(get("fred"), get("carla"))
        accounts.follow(get("gina"), get("carla"))
    auth.login("carla")
    home = client.get("/").get_data(as_text=True)
    assert 'aria-label="Notifications, 2 unread"' in home
    page = client.get("/notifications").get_data(as_text=True)
    assert "Fred started following you." in text_of(page) and "Gina started following you." in text_of(page)
    with site.app_context():
        first = notifications.latest(get("carla"))[-1]
        first_id, target = first.id, f"/@{first.actor.username}"
    opened = client.get(f"/notifications/{first_id}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(target)
    assert 'aria-label="Notifications, 1 unread"' in client.get("/").get_data(as_text=True)
    submit(client, "/notifications", {}, action="/notifications/read")
    assert 'aria-label="Notifications"' in client.get("/").get_data(as_text=True)
    # Someone else's notification is not yours to open.
    auth.logout()
    auth.login("fred")
    assert client.get(f"/notifications/{first_id}").status_code == 404


def test_the_bell_updates_over_socketio_without_a_reload(site, client, auth):
    anonymous = socketio.test_client(site, namespace="/me")
    assert not anonymous.is_connected("/me")
    auth.login("carla")
    bell = socketio.test_client(site, namespace="/me", flask_test_client=client)
    assert bell.is_connected("/me")
    assert bell.get_received("/me")[-1] == {
        "name": "notifications",
        "args": [{"unread": 0}],
        "namespace": "/me",
    }
    with site.app_context():
        accounts.follow(get("fred"), get("carla"))
    received = bell.get_received("/me")
    assert [m["args"][0] for m in received if m["name"] == "notifications"] == [{"unread": 1}]
    bell.disconnect("/me")


def test_notifications_api(site, client):
    with site.app_context():
        accounts.follow(get("fred"), get("carla"))
        token = make_token(get("carla"), scopes=("read", "write"))
        reader = make_token(get("carla"), scopes=("read",))
    headers = {"Authorization": f"Bearer {token}"}
    listing = client.get("/api/v1/notifications", headers=headers).get_json()
    assert listing["unread"] == 1
    assert listing["items"][0]["text"] == "Fred started following you."
    assert listing["items"][0]["url"].endswith("/@fred") and listing["items"][0]["read"] is False
    assert (
        client.post(
            "/api/v1/notifications/read", json={}, headers={"Authorization": f"Bearer {reader}"}
        ).status_code
        == 403
    )
    after = client.post("/api/v1/notifications/read", json={}, headers=headers).get_json()
    assert after["unread"] == 0 and after["items"][0]["read"] is True
    with site.app_context():
        assert db.session.scalar(select(Notification.read_at).where(Notification.user_id == get("carla").id))

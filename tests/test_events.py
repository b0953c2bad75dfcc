"""LIVE events: scheduling rules, time zones, RSVPs, the go-live window, calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from factories import make_admin, make_user
from icalendar import Calendar
from pages import field_errors, flashes, submit, text_of

from livelite.models import Role
from livelite.models.base import utcnow
from livelite.services import events
from livelite.services.errors import Conflict, PermissionDenied, ValidationFailed
from livelite.services.settings import set_setting


@pytest.fixture
def people(app):
    with app.app_context():
        admin = make_admin()
        creator = make_user("carla", role=Role.CREATOR)
        fan = make_user("fred")
        return admin.id, creator.id, fan.id


def user(user_id):
    from livelite.extensions import db
    from livelite.models import User

    return db.session.get(User, user_id)


def schedule(creator_id, *, hours=24, title="Fractions", now=None, **extra):
    return events.create_event(
        user(creator_id),
        title=title,
        starts_at=(now or utcnow()) + timedelta(hours=hours),
        duration_minutes=60,
        **extra,
    )


def test_scheduling_rules(app, people):
    _, creator_id, fan_id = people
    with app.app_context():
        with pytest.raises(PermissionDenied, match="followers"):
            schedule(fan_id)  # a member below the follower bar may not schedule
        with pytest.raises(ValidationFailed) as caught:
            events.create_event(
                user(creator_id), title="", starts_at=utcnow() - timedelta(minutes=1), duration_minutes=7
            )
        assert set(caught.value.errors) == {"title", "starts_at", "duration_minutes"}
        with pytest.raises(ValidationFailed, match="a year ahead"):
            schedule(creator_id, hours=24 * 400)
        event = schedule(creator_id)
        assert event.starts_at.tzinfo is not None and event.sequence == 0


def test_the_go_live_window_opens_ten_minutes_before_and_stays_open_when_late(app, people):
    _, creator_id, _ = people
    with app.app_context():
        now = utcnow()
        event = schedule(creator_id, hours=1, now=now)
        start = event.starts_at
        with pytest.raises(Conflict, match="10 minutes before"):
            events.go_live(event, user(creator_id), now=start - timedelta(minutes=10, seconds=1))
        live = events.go_live(event, user(creator_id), now=start - timedelta(minutes=10))
        assert live.is_live and event.live_id == live.id
        # Pressing again returns the same live instead of failing.
        assert events.go_live(event, user(creator_id), now=start).id == live.id


def test_the_window_is_a_setting_and_a_late_start_is_allowed(app, people):
    _, creator_id, _ = people
    with app.app_context():
        set_setting("GO_LIVE_WINDOW_MINUTES", 0)
        event = schedule(creator_id, hours=1)
        with pytest.raises(Conflict, match="0 minutes"):
            events.go_live(event, user(creator_id), now=event.starts_at - timedelta(seconds=1))
        assert events.go_live(event, user(creator_id), now=event.starts_at + timedelta(hours=2)).is_live


def test_only_the_creator_goes_live_and_not_on_a_cancelled_event(app, people):
    _, creator_id, fan_id = people
    with app.app_context():
        event = schedule(creator_id, hours=0.1)
        with pytest.raises(PermissionDenied):
            events.go_live(event, user(fan_id))
        events.cancel_event(event, user(creator_id))
        with pytest.raises(Conflict, match="cancelled"):
            events.go_live(event, user(creator_id))


def test_rsvps_count_once_and_not_on_cancelled_or_past_events(app, people):
    _, creator_id, fan_id = people
    with app.app_context():
        event = schedule(creator_id)
        assert events.rsvp(event, user(fan_id)) is True
        assert events.rsvp(event, user(fan_id)) is False
        assert events.rsvp_count(event) == 1
        assert [u.username for u in events.attendees(event, user(creator_id))] == ["fred"]
        with pytest.raises(PermissionDenied):
            events.attendees(event, user(fan_id))
        assert events.cancel_rsvp(event, user(fan_id)) is True and events.rsvp_count(event) == 0
        with pytest.raises(Conflict, match="over"):
            events.rsvp(event, user(fan_id), now=event.starts_at + timedelta(hours=2))
        events.cancel_event(event, user(creator_id))
        with pytest.raises(Conflict, match="cancelled"):
            events.rsvp(event, user(fan_id))


def parse(ics: bytes):
    calendar = Calendar.from_ical(ics)
    return calendar, list(calendar.walk("VEVENT"))


def test_ics_keeps_its_uid_bumps_sequence_on_edit_and_says_cancelled(app, people):
    _, creator_id, _ = people
    with app.app_context():
        event = schedule(creator_id)
        _, (first,) = parse(events.event_ics(event, "http://x/events/1"))
        assert str(first["SUMMARY"]) == "Fractions" and int(first["SEQUENCE"]) == 0
        assert first.decoded("DTSTART") == event.starts_at
        assert first.decoded("DTEND") - first.decoded("DTSTART") == timedelta(minutes=60)
        assert str(first["STATUS"]) == "CONFIRMED"

        later = event.starts_at + timedelta(hours=1)
        events.update_event(
            event,
            user(creator_id),
            title="Fractions II",
            description="Bring paper",
            starts_at=later,
            duration_minutes=90,
        )
        _, (edited,) = parse(events.event_ics(event, "http://x/events/1"))
        assert str(edited["UID"]) == str(first["UID"])
        assert int(edited["SEQUENCE"]) == 1
        assert str(edited["SUMMARY"]) == "Fractions II" and edited.decoded("DTSTART") == later

        events.cancel_event(event, user(creator_id))
        calendar, (cancelled,) = parse(events.event_ics(event, "http://x/events/1"))
        assert str(cancelled["STATUS"]) == "CANCELLED" and int(cancelled["SEQUENCE"]) == 2
        assert str(calendar["METHOD"]) == "CANCEL"


def test_form_converts_the_browsers_local_time_to_utc(app, client, auth, people):
    auth.login("carla")
    local = (datetime.now(UTC) + timedelta(days=3)).astimezone().replace(tzinfo=None)
    local = local.replace(hour=19, minute=30, second=0, microsecond=0)
    response = submit(
        client,
        "/events/new",
        {
            "title": "Evening class",
            "description": "",
            "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
            "timezone": "Europe/Paris",
            "duration_minutes": "60",
        },
        follow_redirects=True,
    )
    assert "Your event is scheduled." in flashes(response.get_data(as_text=True))
    with app.app_context():
        from livelite.extensions import db
        from livelite.models import Event

        event = db.session.query(Event).one()
        paris = event.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
        assert (paris.hour, paris.minute) == (19, 30)
        assert event.starts_at.utcoffset() == timedelta(0)


def test_form_errors_show_next_to_fields(app, client, auth, people):
    auth.login("carla")
    response = submit(
        client,
        "/events/new",
        {
            "title": "",
            "starts_at": "2001-01-01T10:00",
            "timezone": "UTC",
            "duration_minutes": "60",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(html, "title") == ["Give your event a title."]
    assert "Choose a time in the future." in html


def test_cover_is_cropped_to_16_by_9_and_bad_files_are_refused(app, client, auth, people):
    auth.login("carla")
    image = np.full((900, 900, 3), (30, 160, 220), dtype=np.uint8)
    _, png = cv2.imencode(".png", image)
    starts = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    from io import BytesIO

    form = {"title": "With cover", "starts_at": starts, "timezone": "UTC", "duration_minutes": "60"}
    response = submit(
        client,
        "/events/new",
        {**form, "cover": (BytesIO(png.tobytes()), "c.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Your event is scheduled." in flashes(response.get_data(as_text=True))
    with app.app_context():
        from livelite.extensions import db
        from livelite.models import Event

        event = db.session.query(Event).one()
        stored = app.extensions["livelite.storage"].path(event.cover_path).read_bytes()
    decoded = cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[:2] == (506, 900)  # 16:9 from a square, never upscaled
    bad = submit(
        client,
        "/events/new",
        {**form, "cover": (BytesIO(b"not an image"), "c.png")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert "not an image we can read" in bad.get_data(as_text=True)


def test_event_page_rsvp_and_creator_view(app, client, auth, people):
    _, creator_id, _ = people
    with app.app_context():
        event_id = schedule(creator_id, hours=48).id
    auth.login("fred")
    page = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "Fractions" in page and "0 people going" in text_of(page)
    response = submit(
        client, f"/events/{event_id}", {}, action=f"/events/{event_id}/rsvp", follow_redirects=True
    )
    assert "1 person going" in text_of(response.get_data(as_text=True))
    auth.logout()
    auth.login("carla")
    creator_page = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "Who is going" in creator_page and "@fred" in creator_page
    assert "GO LIVE opens at" in text_of(creator_page)


def test_calendar_routes_and_profile_and_upcoming(app, client, people):
    _, creator_id, _ = people
    with app.app_context():
        event = schedule(creator_id, hours=5, title="Soon")
        schedule(creator_id, hours=50, title="Later")
        cancelled = schedule(creator_id, hours=10, title="Dropped")
        events.cancel_event(cancelled, user(creator_id))
        event_id = event.id
    ics = client.get(f"/events/{event_id}.ics")
    assert ics.mimetype == "text/calendar"
    _, (item,) = parse(ics.data)
    assert str(item["SUMMARY"]) == "Soon" and f"/events/{event_id}" in str(item["URL"])
    feed = client.get("/@carla/events.ics")
    _, items = parse(feed.data)
    assert sorted(str(i["SUMMARY"]) for i in items) == ["Dropped", "Later", "Soon"]
    assert {str(i["SUMMARY"]): str(i["STATUS"]) for i in items}["Dropped"] == "CANCELLED"
    profile = text_of(client.get("/@carla").get_data(as_text=True))
    assert profile.index("Soon") < profile.index("Later") and "Dropped" not in profile
    upcoming = text_of(client.get("/upcoming").get_data(as_text=True))
    assert "Soon" in upcoming and "Later" in upcoming and "Dropped" not in upcoming


def test_events_api_schedule_rsvp_and_go_live_window(app, client, people):
    from factories import make_token

    _, creator_id, fan_id = people
    with app.app_context():
        mine = {"Authorization": f"Bearer {make_token(user(creator_id), scopes=('read', 'write'))}"}
        theirs = {"Authorization": f"Bearer {make_token(user(fan_id), scopes=('read', 'write'))}"}
    start = (utcnow() + timedelta(hours=3)).replace(second=0, microsecond=0)
    created = client.post(
        "/api/v1/events",
        json={"title": "API class", "starts_at": start.isoformat(), "duration_minutes": 45},
        headers=mine,
    )
    assert created.status_code == 201, created.get_json()
    event = created.get_json()
    assert datetime.fromisoformat(event["starts_at"]) == start
    assert (
        client.post(
            "/api/v1/events", json={"title": "x", "starts_at": start.isoformat()}, headers=theirs
        ).status_code
        == 403
    )
    assert client.put(f"/api/v1/events/{event['id']}/rsvp", headers=theirs).get_json()["rsvp_count"] == 1
    assert client.put(f"/api/v1/events/{event['id']}/rsvp", headers=theirs).get_json()["rsvp_count"] == 1
    assert [
        u["username"] for u in client.get(f"/api/v1/events/{event['id']}/attendees", headers=mine).get_json()
    ] == ["fred"]
    assert client.get(f"/api/v1/events/{event['id']}/attendees", headers=theirs).status_code == 403
    early = client.post(f"/api/v1/events/{event['id']}/go-live", headers=mine)
    assert early.status_code == 409 and "opens 10 minutes before" in early.get_json()["error"]["message"]
    assert [e["title"] for e in client.get("/api/v1/events").get_json()] == ["API class"]

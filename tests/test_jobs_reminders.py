"""Reminders before events: due at 24 h and 10 min, never twice, caught up after a gap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_admin, make_user
from sqlalchemy import select

from livelite import create_app, jobs
from livelite.extensions import db
from livelite.models import Notification, Role, User
from livelite.models.base import utcnow
from livelite.services import events, reminders
from livelite.services.settings import set_setting


def get(username):
    return db.session.scalar(select(User).where(User.username == username))


def reminder_keys(username):
    return sorted(
        db.session.scalars(
            select(Notification.dedupe_key).where(
                Notification.user_id == get(username).id, Notification.kind == "event_reminder"
            )
        )
    )


@pytest.fixture
def event_id(app):
    with app.app_context():
        make_admin()
        make_user("carla", role=Role.CREATOR)
        make_user("gina")
        make_user("hugo")
        event = events.create_event(
            get("carla"), title="Class", starts_at=utcnow() + timedelta(days=3), duration_minutes=60
        )
        events.rsvp(event, get("gina"))
        return event.id


def test_reminders_come_at_24_hours_and_10_minutes_once_each(app, event_id):
    with app.app_context():
        start = events.get_event(event_id).starts_at
        assert reminders.send_due(now=start - timedelta(hours=25)) == 0
        assert reminders.send_due(now=start - timedelta(hours=24)) == 1
        assert reminders.send_due(now=start - timedelta(hours=23)) == 0  # the next tick: nothing new
        assert reminders.send_due(now=start - timedelta(minutes=10)) == 1
        assert reminders.send_due(now=start - timedelta(minutes=9)) == 0
        assert reminders.send_due(now=start + timedelta(minutes=1)) == 0  # started: no more reminders
        assert reminder_keys("gina") == [f"reminder:long:{event_id}", f"reminder:short:{event_id}"]
        assert reminder_keys("hugo") == []  # no RSVP, no reminder
        assert reminder_keys("carla") == []


def test_a_restart_sends_nothing_twice_and_a_missed_tick_catches_up(app, event_id, tmp_path):
    with app.app_context():
        start = events.get_event(event_id).starts_at
        reminders.send_due(now=start - timedelta(hours=20))  # late: the 24 h moment was missed
        assert reminder_keys("gina") == [f"reminder:long:{event_id}"]
    # A new process on the same database (a restart) runs the same tick again.
    restarted = create_app(
        {"INSTANCE_PATH": app.instance_path, "TESTING": True, "SOCKETIO_ASYNC_MODE": "threading"}
    )
    with restarted.app_context():
        assert reminders.send_due(now=start - timedelta(hours=20)) == 0
        db.session.remove()
        db.engine.dispose()


def test_someone_who_rsvps_late_gets_only_the_nearest_reminder(app, event_id):
    with app.app_context():
        start = events.get_event(event_id).starts_at
        events.rsvp(events.get_event(event_id), get("hugo"))
        reminders.send_due(now=start - timedelta(minutes=5))
        assert reminder_keys("hugo") == [f"reminder:short:{event_id}"]


def test_the_moments_are_settings_and_the_job_runs_them(app, event_id):
    with app.app_context():
        set_setting("REMINDER_HOURS_BEFORE", 100)  # 3 days ahead is now inside the window
    jobs.send_reminders(app)
    with app.app_context():
        assert reminder_keys("gina") == [f"reminder:long:{event_id}"]
        from livelite.services import notifications

        (row,) = [r for r in notifications.latest(get("gina")) if r.kind == "event_reminder"]
        assert notifications.describe(row).startswith("Reminder: “Class” starts ")
        assert notifications.describe(row).endswith(" UTC.")

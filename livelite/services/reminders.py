"""Reminders to the people who RSVPed, before an event starts.

Two reminders per event, REMINDER_HOURS_BEFORE (24) and REMINDER_MINUTES_BEFORE (10)
before its start. A tick sends every reminder whose moment has come for events that
have not started yet: a server that was down at the exact moment catches up at its
next tick, and the dedupe keys (``reminder:<kind>:<event id>``) make a second tick,
or a restarted process, send nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from livelite.extensions import db
from livelite.models import Event, EventStatus, Rsvp
from livelite.models.base import utcnow
from livelite.services import notifications
from livelite.services.settings import get_setting


def _windows() -> list[tuple[str, timedelta]]:
    return [
        ("long", timedelta(hours=get_setting("REMINDER_HOURS_BEFORE"))),
        ("short", timedelta(minutes=get_setting("REMINDER_MINUTES_BEFORE"))),
    ]


def send_due(now: datetime | None = None) -> int:
    """Send the reminders that are due; returns how many notifications were stored."""
    now = now or utcnow()
    sent = 0
    windows = _windows()
    horizon = max(delta for _, delta in windows)
    upcoming = db.session.scalars(
        select(Event).where(
            Event.status == EventStatus.SCHEDULED, Event.starts_at > now, Event.starts_at <= now + horizon
        )
    ).all()
    for event in upcoming:
        due = [kind for kind, delta in windows if event.starts_at - delta <= now]
        if not due:
            continue
        people = list(db.session.scalars(select(Rsvp.user_id).where(Rsvp.event_id == event.id)))
        # Only the nearest reminder that is due: someone who RSVPs 5 minutes before
        # the start gets "in 10 minutes", not also "tomorrow".
        kind = "short" if "short" in due else "long"
        sent += len(
            notifications.notify(
                people,
                "event_reminder",
                f"reminder:{kind}:{event.id}",
                event=event,
                data={"title": event.title, "starts_at": event.starts_at.isoformat()},
            )
        )
    return sent

"""Recording what analytics are computed from: attendance and viewer samples.

Attendance follows realtime presence: a row opens when a person's (or a visitor
browser's) first connection to a live joins and closes when their last one leaves, so
tabs count once and each reconnect adds a row; the time present is the sum of the rows.
The sampler (a job every ``ANALYTICS_SAMPLE_SECONDS``) stores each live's viewer count
and likes total, and marks open attendance rows as still seen: rows a crash left open
are closed at that mark on the next start, so nobody is credited the hours the server
was down. The host is not audience and is never recorded (presence skips them).

Presence is per process (as the room is, see docs/realtime.md): with several processes
each records its own connections, and the rows still add up per person.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from livelite.extensions import db
from livelite.models import Attendance, Live, LiveSample, LiveStatus, RoomSettings
from livelite.models.base import utcnow


def user_id_of(identity: str) -> int | None:
    """The user id in a presence identity ("user:7"), None for a visitor."""
    kind, _, value = identity.partition(":")
    return int(value) if kind == "user" and value.isdigit() else None


def attendance_join(live_id: int, identity: str, *, at: datetime | None = None) -> None:
    """The first connection of ``identity`` joined ``live_id``: open a row (once)."""
    open_row = db.session.scalar(
        select(Attendance.id).where(
            Attendance.live_id == live_id, Attendance.identity == identity, Attendance.left_at.is_(None)
        )
    )
    if open_row is not None:
        return
    now = at or utcnow()
    db.session.add(
        Attendance(live_id=live_id, identity=identity, user_id=user_id_of(identity), joined_at=now, seen_at=now)
    )
    db.session.commit()


def attendance_leave(live_id: int, identity: str, *, at: datetime | None = None) -> None:
    """The last connection of ``identity`` left: close their open row."""
    now = at or utcnow()
    db.session.execute(
        update(Attendance)
        .where(Attendance.live_id == live_id, Attendance.identity == identity, Attendance.left_at.is_(None))
        .values(left_at=now, seen_at=now)
    )
    db.session.commit()


def close_attendance(live_id: int, *, at: datetime | None = None) -> None:
    """The live ended: everyone still there leaves now (their pages may stay open)."""
    now = at or utcnow()
    db.session.execute(
        update(Attendance)
        .where(Attendance.live_id == live_id, Attendance.left_at.is_(None))
        .values(left_at=now, seen_at=now)
    )
    db.session.commit()


def recover_attendance() -> int:
    """At start: rows the previous process left open close at their last ``seen_at``
    (no connection survives a restart; those who are still watching rejoin and get a
    new row). Returns how many were closed."""
    result = db.session.execute(
        update(Attendance).where(Attendance.left_at.is_(None)).values(left_at=Attendance.seen_at)
    )
    db.session.commit()
    return result.rowcount or 0


def sample(presence=None, *, at: datetime | None = None) -> int:
    """One sample per live that is on: viewers now, likes so far; open attendance rows
    of those lives are marked seen. Returns the number of samples written."""
    presence = presence or current_app.extensions["livelite.presence"]
    now = at or utcnow()
    rows = db.session.execute(
        select(Live.id, RoomSettings.likes)
        .outerjoin(RoomSettings, RoomSettings.live_id == Live.id)
        .where(Live.status == LiveStatus.LIVE)
    ).all()
    for live_id, likes in rows:
        db.session.add(LiveSample(live_id=live_id, at=now, viewers=presence.count(live_id), likes=likes or 0))
    if rows:
        db.session.execute(
            update(Attendance)
            .where(Attendance.left_at.is_(None), Attendance.live_id.in_([r[0] for r in rows]))
            .values(seen_at=now)
        )
    db.session.commit()
    return len(rows)

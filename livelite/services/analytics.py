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

from datetime import UTC, datetime
from itertools import pairwise

from flask import current_app
from sqlalchemy import Float, case, cast, distinct, func, select, update

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
        Attendance(
            live_id=live_id, identity=identity, user_id=user_id_of(identity), joined_at=now, seen_at=now
        )
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


def recover_attendance(presence=None) -> int:
    """At start: rows the previous process left open close at their last ``seen_at``
    (no connection survives a restart; those who are still watching rejoin and get a
    new row). With several processes (``presence`` shared through Redis), the rows of
    people still connected to another process stay open. Returns how many were closed."""
    if presence is None:
        result = db.session.execute(
            update(Attendance).where(Attendance.left_at.is_(None)).values(left_at=Attendance.seen_at)
        )
        db.session.commit()
        return result.rowcount or 0
    closed = 0
    rows = db.session.scalars(select(Attendance).where(Attendance.left_at.is_(None))).all()
    present: dict[int, set[str]] = {}
    for row in rows:
        if row.live_id not in present:
            present[row.live_id] = set(presence.identities(row.live_id))
        if row.identity not in present[row.live_id]:
            row.left_at = row.seen_at
            closed += 1
    db.session.commit()
    return closed


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


# -- computing: what the analytics pages and the API show -------------------------------
#
# A live's figures come from a handful of aggregate queries over its own rows (samples,
# attendance, follows, gifts, chat, questions); nothing is stored twice. Times are UTC and
# per-minute buckets count from ``Live.started_at``: chat messages and gift sends carry
# that offset already (``offset_ms``, set when they were created), samples are placed by
# their ``at``. The choices, so that the pages can say them:
#
# - average viewers is time-weighted: each sample's count holds until the next sample, so
#   a quiet stretch with few samples weighs as much as its length (the last sample ends
#   the span; one sample alone is the average);
# - unique viewers are distinct presence identities in Attendance: one per signed-in
#   person, one per visitor's browser; the host is never recorded;
# - chat messages count every message sent, removed ones included (they were written
#   during the live); how many were removed is given beside it;
# - gifts count gifts (a send of 5 roses is 5), coins are what viewers spent and diamonds
#   the host's share;
# - likes per minute are the differences of the samples' running total (likes are only
#   stored as a total), so they appear once a minute has a sample.

MAX_DAYS = 90


def _seconds(delta) -> int:
    return max(0, int(delta.total_seconds()))


def seconds_between(start, end):
    """SQL for the whole seconds from ``start`` to ``end`` (two datetime columns), so sums
    of durations are computed by the database instead of over every row in Python (a
    month of attendance is ~100 000 rows). SQLite has no interval type; PostgreSQL does
    (its ``extract`` gives a numeric, a Decimal in Python: cast to a float like SQLite's)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.round((func.julianday(end) - func.julianday(start)) * 86400)
    return cast(func.extract("epoch", end - start), Float)


def live_window(live: Live, now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
    """When the live started and ended (now, if it is still on); (None, None) before."""
    if live.started_at is None:
        return None, None
    end = live.ended_at or (now or utcnow())
    return live.started_at, max(end, live.started_at)


def time_weighted_average(points: list[tuple[datetime, int]]) -> float:
    """The average of a step function: each value holds from its time until the next one.
    ``points`` are in time order; one point is its own average, none is 0."""
    if not points:
        return 0.0
    span = (points[-1][0] - points[0][0]).total_seconds()
    if span <= 0:
        return float(points[-1][1])
    weighted = sum(value * (later - at).total_seconds() for (at, value), (later, _v) in pairwise(points))
    return weighted / span


def _minutes(start: datetime | None, end: datetime | None) -> int:
    """How many one-minute buckets the live spans (a started live has at least one)."""
    if start is None:
        return 0
    return max(1, -(-_seconds(end - start) // 60))


def _per_minute(pairs, minutes: int) -> list[int]:
    """[(minute, value)] → a list of ``minutes`` values, zeros where nothing happened
    (anything after the last bucket, a late clock say, goes into the last one)."""
    series = [0] * minutes
    for minute, value in pairs:
        if minutes and minute is not None:
            series[min(max(int(minute), 0), minutes - 1)] += int(value or 0)
    return series


def likes_per_minute(samples: list[tuple[datetime, int]], start: datetime, minutes: int) -> list[int]:
    """Likes added in each minute: the running total at the minute's last sample minus the
    one before (0 at the start). Minutes with no sample show 0 and the likes appear in the
    next minute that has one; a total that went down (never expected) counts as 0."""
    end_totals: dict[int, int] = {}
    for at, likes in samples:
        end_totals[min(_seconds(at - start) // 60, max(minutes - 1, 0))] = likes
    series, previous = [0] * minutes, 0
    for minute in range(minutes):
        if minute in end_totals:
            series[minute] = max(0, end_totals[minute] - previous)
            previous = max(previous, end_totals[minute])
    return series


def require_analytics(live: Live, user) -> None:
    """A live's analytics are its host's and the admins' (PermissionDenied otherwise)."""
    from livelite.services.lives import require_host

    require_host(live, user)


def live_figures(live: Live, *, now: datetime | None = None) -> dict:
    """Everything the per-live page shows: the figures and the per-minute series
    (see the notes above for what each one counts). A live that never started has
    zeros and empty series; ``has_samples`` tells whether viewers were ever sampled."""
    from livelite.models import ChatMessage, Follow, GiftSend, Question, QuestionStatus

    start, end = live_window(live, now)
    minutes = _minutes(start, end)
    samples = [
        (at, viewers, likes)
        for at, viewers, likes in db.session.execute(
            select(LiveSample.at, LiveSample.viewers, LiveSample.likes)
            .where(LiveSample.live_id == live.id)
            .order_by(LiveSample.at)
        )
    ]
    unique, signed_in = db.session.execute(
        select(func.count(distinct(Attendance.identity)), func.count(distinct(Attendance.user_id))).where(
            Attendance.live_id == live.id
        )
    ).one()
    watched = db.session.scalar(
        select(
            func.coalesce(
                func.sum(
                    seconds_between(
                        Attendance.joined_at, func.coalesce(Attendance.left_at, Attendance.seen_at)
                    )
                ),
                0,
            )
        ).where(Attendance.live_id == live.id)
    )
    gifts, coins, diamonds = db.session.execute(
        select(
            func.coalesce(func.sum(GiftSend.quantity), 0),
            func.coalesce(func.sum(GiftSend.coins), 0),
            func.coalesce(func.sum(GiftSend.diamonds), 0),
        ).where(GiftSend.live_id == live.id)
    ).one()
    chat, chat_removed = db.session.execute(
        select(func.count(), func.count(ChatMessage.removed_at)).where(ChatMessage.live_id == live.id)
    ).one()
    asked, answered = db.session.execute(
        select(func.count(), func.count(case((Question.status == QuestionStatus.ANSWERED, 1)))).where(
            Question.live_id == live.id
        )
    ).one()
    new_followers = 0
    if start is not None:
        new_followers = db.session.scalar(
            select(func.count())
            .select_from(Follow)
            .where(Follow.followed_id == live.host_id, Follow.created_at >= start, Follow.created_at <= end)
        )
    # Whole minutes (``/`` would be a true division: one group per message).
    minute_of = (ChatMessage.offset_ms // 60000).label("minute")
    chat_pairs = db.session.execute(
        select(minute_of, func.count()).where(ChatMessage.live_id == live.id).group_by(minute_of)
    ).all()
    gift_minute = (GiftSend.offset_ms // 60000).label("minute")
    diamond_pairs = db.session.execute(
        select(gift_minute, func.sum(GiftSend.diamonds))
        .where(GiftSend.live_id == live.id)
        .group_by(gift_minute)
    ).all()
    likes_total = db.session.scalar(select(RoomSettings.likes).where(RoomSettings.live_id == live.id))
    if likes_total is None:
        likes_total = samples[-1][2] if samples else 0

    return {
        "live_id": live.id,
        "title": live.title,
        "status": live.status.value,
        "started_at": start,
        "ended_at": live.ended_at,
        "duration_s": _seconds(end - start) if start else 0,
        "has_samples": bool(samples),
        "peak_viewers": max((v for _at, v, _l in samples), default=0),
        "average_viewers": round(time_weighted_average([(at, v) for at, v, _l in samples]), 1),
        "unique_viewers": unique,
        "signed_in_viewers": signed_in,
        "visitors": unique - signed_in,
        "watch_seconds": max(0, int(watched or 0)),
        "new_followers": new_followers,
        "gifts": int(gifts),
        "coins": int(coins),
        "diamonds": int(diamonds),
        "likes": int(likes_total),
        "chat_messages": chat,
        "chat_removed": chat_removed,
        "questions_asked": asked,
        "questions_answered": answered,
        "series": {
            "viewers": [{"t": _seconds(at - start), "viewers": v} for at, v, _l in samples] if start else [],
            "chat_per_minute": _per_minute(chat_pairs, minutes),
            "likes_per_minute": likes_per_minute([(at, likes) for at, _v, likes in samples], start, minutes)
            if start
            else [],
            "diamonds_per_minute": _per_minute(diamond_pairs, minutes),
        },
    }


def lives_of(user, *, page: int = 1, per_page: int = 20):
    """The host's lives that started (on now or ended), newest first, paginated."""
    stmt = (
        select(Live)
        .where(Live.host_id == user.id, Live.started_at.is_not(None))
        .order_by(Live.started_at.desc(), Live.id.desc())
    )
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def summaries(lives: list[Live], *, now: datetime | None = None) -> list[dict]:
    """The main figures of several lives at once (the list page): one grouped query per
    figure, whatever the number of lives."""
    from livelite.models import GiftSend

    ids = [live.id for live in lives]
    if not ids:
        return []
    peaks = dict(
        db.session.execute(
            select(LiveSample.live_id, func.max(LiveSample.viewers))
            .where(LiveSample.live_id.in_(ids))
            .group_by(LiveSample.live_id)
        ).all()
    )
    uniques = dict(
        db.session.execute(
            select(Attendance.live_id, func.count(distinct(Attendance.identity)))
            .where(Attendance.live_id.in_(ids))
            .group_by(Attendance.live_id)
        ).all()
    )
    diamonds = dict(
        db.session.execute(
            select(GiftSend.live_id, func.sum(GiftSend.diamonds))
            .where(GiftSend.live_id.in_(ids))
            .group_by(GiftSend.live_id)
        ).all()
    )
    rows = []
    for live in lives:
        start, end = live_window(live, now)
        rows.append(
            {
                "live_id": live.id,
                "title": live.title,
                "status": live.status.value,
                "started_at": start,
                "ended_at": live.ended_at,
                "duration_s": _seconds(end - start) if start else 0,
                "has_samples": live.id in peaks,
                "peak_viewers": int(peaks.get(live.id) or 0),
                "unique_viewers": int(uniques.get(live.id) or 0),
                "diamonds": int(diamonds.get(live.id) or 0),
            }
        )
    return rows


def _day(value) -> str:
    """``date()`` comes back as text on SQLite and as a date on PostgreSQL."""
    return value if isinstance(value, str) else value.isoformat()


def site_days(actor, days: int = 30, *, now: datetime | None = None) -> dict:
    """The admin overview, per UTC day over the last ``days`` (today included): lives
    held (started that day), peak concurrent viewers (the most viewers of all lives at
    one sample), hours watched (attendance that began that day), new people, and the
    diamonds of gifts sent. Admins only."""
    from datetime import timedelta

    from livelite.models import GiftSend, User
    from livelite.services.admin import require_admin

    require_admin(actor)
    days = min(max(int(days), 1), MAX_DAYS)
    today = (now or utcnow()).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]

    def per_day(column, value, *where):
        day = func.date(column)
        return {
            _day(d): v
            for d, v in db.session.execute(
                select(day, value).where(column >= since, *where).group_by(day)
            ).all()
            if d is not None
        }

    lives = per_day(Live.started_at, func.count())
    people = per_day(User.created_at, func.count())
    gift_diamonds = per_day(GiftSend.created_at, func.sum(GiftSend.diamonds))
    # Samples of all lives are written together (one ``at`` per tick): the site's
    # concurrent viewers at a tick is their sum.
    concurrent = (
        select(LiveSample.at.label("at"), func.sum(LiveSample.viewers).label("viewers"))
        .where(LiveSample.at >= since)
        .group_by(LiveSample.at)
        .subquery()
    )
    peak = {
        _day(d): v
        for d, v in db.session.execute(
            select(func.date(concurrent.c.at), func.max(concurrent.c.viewers)).group_by(
                func.date(concurrent.c.at)
            )
        ).all()
        if d is not None
    }
    watched = per_day(
        Attendance.joined_at,
        func.sum(
            seconds_between(Attendance.joined_at, func.coalesce(Attendance.left_at, Attendance.seen_at))
        ),
    )
    return {
        "days": labels,
        "lives": [int(lives.get(d, 0)) for d in labels],
        "peak_viewers": [int(peak.get(d) or 0) for d in labels],
        "hours_watched": [round(max(0, watched.get(d) or 0) / 3600, 1) for d in labels],
        "new_people": [int(people.get(d, 0)) for d in labels],
        "diamonds": [int(gift_diamonds.get(d) or 0) for d in labels],
    }

"""Live Q&A: asking, upvoting, answering (which pins), dismissing, and the export.

Viewers ask (one question per ``QUESTION_INTERVAL_SECONDS`` per person and live) and
upvote other people's open questions once each; the host and moderators work through
the queue (open questions by votes, then by age). Answering a question pins it on every
screen, one at a time. Every rule is checked here, so the socket events
(blueprints/lives/qa_events.py), the API and the CSV page behave the same; changes are
committed first and only then sent to the room (docs/realtime.md).
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from livelite import realtime
from livelite.extensions import db
from livelite.models import Live, Question, QuestionStatus, QuestionVote, RoomSettings, User
from livelite.models.base import utcnow
from livelite.services import room
from livelite.services.chat import clean_body
from livelite.services.settings import get_setting
from livelite.services.spreadsheets import cell as _cell

# The column is String(300): the contract promises this limit, not a site setting.
QUESTION_MAX_LENGTH = 300
# room_state carries at most this many questions of each status: the queue's top, the
# latest answered (and, for staff, dismissed) ones. The export has them all.
LISTING_LIMIT = 200


# -- payloads ------------------------------------------------------------------------
def question_payload(question: Question) -> dict:
    """The ``question`` object of docs/realtime.md. An anonymous question has no
    author for anyone, staff included: the author stays in the database for
    moderation, never in what is sent."""
    return {
        "id": question.id,
        "body": question.body,
        "author": None if question.anonymous else room.user_payload(question.user),
        "votes": question.votes,
        "status": question.status.value,
        "offset_ms": question.offset_ms,
        "answered_offset_ms": question.answered_offset_ms,
        "at": question.created_at.isoformat(),
    }


def _pinned_payload(question: Question | None) -> dict:
    return {"question": question_payload(question) if question is not None else None}


# -- lookups -------------------------------------------------------------------------
def _get(live: Live, question_id: int) -> Question:
    """A question of this live: one of another live is as unknown as a missing one."""
    question = db.session.get(Question, question_id)
    if question is None or question.live_id != live.id:
        raise room.RoomError("not_found", _("This question does not exist."), status=404)
    return question


def pinned_question(live: Live) -> Question | None:
    """The answered question on every screen now, if any."""
    row = db.session.get(RoomSettings, live.id)
    if row is None or row.pinned_question_id is None:
        return None
    question = db.session.get(Question, row.pinned_question_id)
    if question is None or question.status == QuestionStatus.DISMISSED:
        return None
    return question


def _interval() -> timedelta:
    return timedelta(seconds=int(get_setting("QUESTION_INTERVAL_SECONDS")))


def _last_asked_at(live: Live, user_id: int, *, excluding: int | None = None) -> datetime | None:
    query = select(Question.created_at).where(Question.live_id == live.id, Question.user_id == user_id)
    if excluding is not None:
        query = query.where(Question.id != excluding)
    return db.session.scalar(query.order_by(Question.created_at.desc()).limit(1))


def next_question_at(live: Live, user: User | None, now: datetime | None = None) -> datetime | None:
    """When this person may ask again in this live (None: now). Read from the database,
    so it holds across tabs, reconnects and server processes."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    last = _last_asked_at(live, user.id)
    if last is None:
        return None
    ready = last + _interval()
    return ready if ready > (now or utcnow()) else None


def _too_soon(ready: datetime, now: datetime) -> room.RoomError:
    wait = (ready - now).total_seconds()
    return room.RoomError(
        "rate_limited",
        _(
            "You can ask one question every %(n)s s. Try again in %(wait)s s.",
            n=int(_interval().total_seconds()),
            wait=max(1, math.ceil(wait)),
        ),
        retry_after=wait,
        status=429,
    )


# -- asking --------------------------------------------------------------------------
def _require_may_speak(live: Live, user: User | None) -> User:
    """Logged in, the live on air, not kicked, banned or muted."""
    user = room.require_member(user)
    room.require_live(live)
    room.require_may_join(live, user)
    mute = room.active_mute(live, user.id)
    if mute is not None:
        if mute.until is None:
            raise room.RoomError("muted", _("You are muted for the rest of this live."), status=403)
        wait = (mute.until - utcnow()).total_seconds()
        raise room.RoomError(
            "muted",
            _("You are muted. You can ask again in %(n)s s.", n=max(1, math.ceil(wait))),
            retry_after=wait,
            status=403,
        )
    return user


def ask(live: Live, user: User | None, body, anonymous: bool = False) -> Question:
    """Ask a question in a live, then send it to the room.

    One question per ``QUESTION_INTERVAL_SECONDS`` per person and live, counted from
    their last question in the database (not from memory), so another tab or process
    cannot get around it. ``anonymous`` hides the author from everyone, where the live
    allows it.
    """
    user = _require_may_speak(live, user)
    # As in the chat: control characters and lone surrogates out (no database stores
    # the latter), line breaks become spaces.
    text = clean_body(body) if isinstance(body, str) else ""
    if not text:
        raise room.RoomError("empty", _("Write a question first."))
    if len(text) > QUESTION_MAX_LENGTH:
        raise room.RoomError("too_long", _("A question has at most %(n)s characters.", n=QUESTION_MAX_LENGTH))
    if anonymous and not room.settings_of(live).anonymous_questions:
        raise room.RoomError("invalid", _("This live does not take anonymous questions."))
    now = utcnow()
    ready = next_question_at(live, user, now)
    if ready is not None:
        raise _too_soon(ready, now)
    question = Question(
        live_id=live.id,
        user_id=user.id,
        body=text,
        anonymous=bool(anonymous),
        status=QuestionStatus.OPEN,
        votes=0,
        created_at=now,
        offset_ms=room.offset_ms(live, now),
    )
    db.session.add(question)
    db.session.flush()
    # Checked again now that this transaction holds SQLite's write lock: two events
    # sent at the same moment (two tabs) both passed the check above, one must lose.
    interval = _interval()
    previous = _last_asked_at(live, user.id, excluding=question.id) if interval else None
    if previous is not None and previous + interval > now:
        db.session.rollback()
        raise _too_soon(previous + interval, now)
    db.session.commit()
    realtime.emit_to_live(live.id, "question", question_payload(question))
    return question


# -- voting --------------------------------------------------------------------------
def vote(live: Live, user: User | None, question_id: int) -> Question:
    """Upvote someone else's open question, once. The vote row's primary key (question,
    person) is the real guard; the count goes up in SQL so that votes arriving together
    are all counted."""
    user = room.require_member(user)
    room.require_live(live)
    room.require_may_join(live, user)
    question = _get(live, question_id)
    if question.user_id == user.id:
        raise room.RoomError("not_allowed", _("You cannot vote for your own question."), status=403)
    if question.status != QuestionStatus.OPEN:
        raise room.RoomError("conflict", _("Only open questions take votes."), status=409)
    if db.session.get(QuestionVote, {"question_id": question.id, "user_id": user.id}) is not None:
        raise _already_voted()
    try:
        db.session.add(QuestionVote(question_id=question.id, user_id=user.id))
        db.session.flush()
    except IntegrityError:
        # The same vote from another tab got in first.
        db.session.rollback()
        raise _already_voted() from None
    db.session.execute(
        update(Question)
        .where(Question.id == question.id)
        .values(votes=Question.votes + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()  # expires the question: votes is read back fresh
    realtime.emit_to_live(live.id, "question", question_payload(question))
    return question


def _already_voted() -> room.RoomError:
    return room.RoomError("already_voted", _("You already voted for this question."), status=409)


# -- staff ---------------------------------------------------------------------------
def answer(live: Live, actor: User | None, question_id: int) -> Question:
    """Mark a question answered and pin it for everyone, in place of any earlier pin.

    An answered question may be pinned again (it keeps its first answer time, which
    the replay uses as a chapter); a dismissed one may not.
    """
    room.require_staff(live, actor)
    room.require_live(live)
    question = _get(live, question_id)
    if question.status == QuestionStatus.DISMISSED:
        raise room.RoomError("conflict", _("This question was dismissed."), status=409)
    if question.status == QuestionStatus.OPEN:
        now = utcnow()
        question.status = QuestionStatus.ANSWERED
        question.answered_at = now
        question.answered_offset_ms = room.offset_ms(live, now)
    room.settings_of(live).pinned_question_id = question.id
    db.session.commit()
    payload = question_payload(question)
    realtime.emit_to_live(live.id, "question", payload)
    realtime.emit_to_live(live.id, "pinned", {"question": payload})
    return question


def dismiss(live: Live, actor: User | None, question_id: int) -> Question:
    """Take a question out of the public list (and off the screen if pinned).

    Viewers get ``question_removed`` (the text is not sent again); staff get the
    dismissed ``question``, since they still list dismissed ones.
    """
    room.require_staff(live, actor)
    room.require_live(live)
    question = _get(live, question_id)
    if question.status == QuestionStatus.DISMISSED:
        raise room.RoomError("conflict", _("This question was already dismissed."), status=409)
    question.status = QuestionStatus.DISMISSED
    settings = room.settings_of(live)
    was_pinned = settings.pinned_question_id == question.id
    if was_pinned:
        settings.pinned_question_id = None
    db.session.commit()
    realtime.emit_to_live(live.id, "question_removed", {"id": question.id})
    realtime.emit_to_staff(live.id, "question", question_payload(question))
    if was_pinned:
        realtime.emit_to_live(live.id, "pinned", _pinned_payload(None))
    return question


def unpin(live: Live, actor: User | None) -> None:
    """Take the pinned question off every screen (it stays answered)."""
    room.require_staff(live, actor)
    room.require_live(live)
    settings = room.settings_of(live)
    settings.pinned_question_id = None
    db.session.commit()
    realtime.emit_to_live(live.id, "pinned", _pinned_payload(None))


# -- reading -------------------------------------------------------------------------
def listing(live: Live, viewer: User | None) -> list[Question]:
    """The questions a person sees: the open queue (most votes first, then oldest
    first), then answered ones (latest first); staff also get dismissed ones (latest
    first). At most ``LISTING_LIMIT`` of each status."""
    staff = room.is_staff(live, viewer)
    statuses = [QuestionStatus.OPEN, QuestionStatus.ANSWERED]
    if staff:
        statuses.append(QuestionStatus.DISMISSED)
    found: list[Question] = []
    for status in statuses:
        query = (
            select(Question)
            .options(selectinload(Question.user))
            .where(Question.live_id == live.id, Question.status == status)
        )
        if status == QuestionStatus.OPEN:
            query = query.order_by(Question.votes.desc(), Question.created_at, Question.id)
        elif status == QuestionStatus.ANSWERED:
            query = query.order_by(Question.answered_at.desc(), Question.id.desc())
        else:
            query = query.order_by(Question.id.desc())
        found.extend(db.session.scalars(query.limit(LISTING_LIMIT)))
    return found


def voted_ids(live: Live, user: User | None) -> list[int]:
    """The questions of this live that this person voted for."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return list(
        db.session.scalars(
            select(QuestionVote.question_id)
            .join(Question, Question.id == QuestionVote.question_id)
            .where(Question.live_id == live.id, QuestionVote.user_id == user.id)
            .order_by(QuestionVote.question_id)
        )
    )


def you_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    ready = next_question_at(live, user)
    return {"voted": voted_ids(live, user), "next_question_at": ready.isoformat() if ready else None}


def state_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    return {
        "questions": [question_payload(q) for q in listing(live, user)],
        "pinned": _pinned_payload(pinned_question(live))["question"],
    }


# -- export --------------------------------------------------------------------------
def _clock(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def export_csv(live: Live, actor: User | None) -> str:
    """Every question of a live (dismissed ones too), oldest first, as CSV for the host,
    their moderators and admins, during the live or after it. Anonymous questions say
    so instead of naming their author."""
    room.require_staff(live, actor)
    statuses = {
        QuestionStatus.OPEN: _("open"),
        QuestionStatus.ANSWERED: _("answered"),
        QuestionStatus.DISMISSED: _("dismissed"),
    }
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Asked at (UTC)"),
            _("Time in the live"),
            _("Question"),
            _("Author"),
            _("Votes"),
            _("Status"),
            _("Answered at (time in the live)"),
        ]
    )
    rows = db.session.scalars(
        select(Question)
        .options(selectinload(Question.user))
        .where(Question.live_id == live.id)
        .order_by(Question.created_at, Question.id)
    )
    for question in rows:
        writer.writerow(
            [
                _cell(question.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")),
                _cell(_clock(question.offset_ms)),
                _cell(question.body),
                _cell(_("anonymous") if question.anonymous else question.user.username),
                question.votes,
                _cell(statuses[question.status]),
                _cell(_clock(question.answered_offset_ms)),
            ]
        )
    return out.getvalue()

"""Live chat: sending a message (with every room rule), the history, the payloads.

``send_message`` applies the room's rules in a fixed order, so a person always hears
about the most important obstacle first: who they are (logged in, not banned, not
kicked), whether they may speak at all (muted, comments off, followers only, slow
mode), then what they wrote (empty, too long, a blocked word). The per-person burst
limit (``CHAT_MESSAGES_PER_10S``) is checked before all of this by the socket handler,
without touching the database.

Bodies are stored and sent exactly as written, as plain text: pages escape them
(Jinja autoescape) and the room's script sets them with ``textContent``. Only what no
one can see or type on purpose is taken out: control characters (line breaks become
spaces: a chat line is one line) and lone surrogates, which could not even be stored.

A message is committed first and only then sent to the room (``chat`` to
``live:<id>``), so everyone sees what a reload would show.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from livelite import realtime
from livelite.extensions import db
from livelite.models import (
    BlockedWord,
    ChatMessage,
    GuestStatus,
    Live,
    LiveGuest,
    Moderator,
    RoomSettings,
    User,
)
from livelite.models.base import utcnow
from livelite.services import room
from livelite.services.settings import get_setting

_WORD = re.compile(r"\w+")


# -- reading ---------------------------------------------------------------------------
def recent_messages(live: Live, limit: int = room.CHAT_HISTORY) -> list[ChatMessage]:
    """The last ``limit`` visible messages, oldest first."""
    rows = db.session.scalars(
        select(ChatMessage)
        .options(selectinload(ChatMessage.user))
        .where(ChatMessage.live_id == live.id, ChatMessage.removed_at.is_(None))
        .order_by(ChatMessage.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


def message_payload(message: ChatMessage, role: room.RoomRole | None = None) -> dict:
    """The ``message`` object of docs/realtime.md. ``role`` is the author's role in the
    live now; given when the caller worked it out for many messages at once."""
    if role is None:
        role = room.role_of(db.session.get(Live, message.live_id), message.user)
    return {
        "id": message.id,
        "user": room.user_payload(message.user),
        "body": message.body,
        "offset_ms": message.offset_ms,
        "at": message.created_at.isoformat(),
        "role": role.value,
    }


def author_roles(live: Live, users: Iterable[User]) -> dict[int, room.RoomRole]:
    """``room.role_of`` for many people in two queries (a join sends 50 messages).

    Keep in step with ``room.role_of``: host, admin, moderator, guest, viewer.
    """
    people = {user.id: user for user in users}
    if not people:
        return {}
    ids = list(people)
    moderators = set(
        db.session.scalars(
            select(Moderator.user_id).where(Moderator.host_id == live.host_id, Moderator.user_id.in_(ids))
        )
    )
    guests = set(
        db.session.scalars(
            select(LiveGuest.user_id).where(
                LiveGuest.live_id == live.id,
                LiveGuest.status == GuestStatus.ACTIVE,
                LiveGuest.user_id.in_(ids),
            )
        )
    )
    roles = {}
    for uid, user in people.items():
        if uid == live.host_id:
            roles[uid] = room.RoomRole.HOST
        elif user.is_admin:
            roles[uid] = room.RoomRole.ADMIN
        elif user.is_site_moderator or uid in moderators:
            roles[uid] = room.RoomRole.MODERATOR
        elif uid in guests:
            roles[uid] = room.RoomRole.GUEST
        else:
            roles[uid] = room.RoomRole.VIEWER
    return roles


def payloads(live: Live, messages: list[ChatMessage]) -> list[dict]:
    roles = author_roles(live, (m.user for m in messages))
    return [message_payload(m, roles[m.user_id]) for m in messages]


# -- text --------------------------------------------------------------------------------
def clean_body(body: str) -> str:
    """The text as written, minus what cannot be shown or stored: control characters
    (whitespace ones, such as line breaks and tabs, become spaces) and lone surrogates.
    Nothing else is changed, HTML included: it is text, escaped where it is shown."""
    kept = []
    for char in body:
        kind = unicodedata.category(char)
        if kind == "Cc":
            if char.isspace():
                kept.append(" ")
        elif kind != "Cs":
            kept.append(char)
    return "".join(kept).strip()


def _words(text: str) -> str:
    """Words only, case-folded and compatibility-normalised, one space between them:
    "BadWord!" and "badword" read the same; invisible format characters (zero-width
    spaces…) slipped inside a word do not hide it."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(_WORD.findall(text))


def blocked_word_in(body: str, words: Iterable[str]) -> str | None:
    """The first of the host's blocked words (or phrases) that ``body`` contains as
    whole words, whatever the case and the punctuation around them; None if clean.

    A blocked entry made only of symbols ("$$$") is looked for as it is."""
    text = f" {_words(body)} "
    folded = body.casefold()
    for word in words:
        phrase = _words(word)
        if phrase:
            if f" {phrase} " in text:
                return word
        elif word and word.casefold() in folded:
            return word
    return None


def host_blocked_words(host_id: int) -> list[str]:
    """Read on every message, so a change to the list applies to the next one."""
    return list(db.session.scalars(select(BlockedWord.word).where(BlockedWord.host_id == host_id)))


# -- the rules -----------------------------------------------------------------------------
def _settings(live: Live) -> RoomSettings:
    """The live's settings without creating a row (defaults when there is none yet)."""
    return db.session.get(RoomSettings, live.id) or RoomSettings(
        live_id=live.id, slow_mode_seconds=0, followers_only=False, comments_off=False, likes=0
    )


def _mute_error(mute, now: datetime) -> room.RoomError:
    if mute.until is None:
        return room.RoomError("muted", _("You are muted for the rest of this live."), status=403)
    left = (mute.until - now).total_seconds()
    return room.RoomError(
        "muted",
        _("You are muted. You can chat again in %(n)s s.", n=max(1, math.ceil(left))),
        retry_after=left,
        status=403,
    )


def _require_standing(live: Live, user: User, now: datetime) -> None:
    """Site-banned, kicked from this live or banned by its host: not in this room; muted:
    not heard."""
    if user.is_banned:
        raise room.RoomError("not_allowed", room.banned_message(), status=403)
    if room.is_banned_by_host(live.host_id, user.id):
        raise room.RoomError("not_allowed", _("The host has banned you from their lives."), status=403)
    kicked, mute = room.standing(live, user.id, now)
    if kicked:
        raise room.RoomError("not_allowed", _("You were removed from this live."), status=403)
    if mute is not None:
        raise _mute_error(mute, now)


def _last_sent_at(live: Live, user: User) -> datetime | None:
    return db.session.scalar(
        select(ChatMessage.created_at)
        .where(ChatMessage.live_id == live.id, ChatMessage.user_id == user.id)
        .order_by(ChatMessage.id.desc())
        .limit(1)
    )


def send_message(live: Live, user: User | None, body) -> dict:
    """Store ``body`` as ``user``'s message in ``live``, send it to the room and return it
    as sent (the ``message`` object of docs/realtime.md).

    The payload is built before the commit, while the rows are fresh, and reused for
    the acknowledgement: after a commit every attribute would be read again (bench/chat
    counted 17 statements per message before, 10 now).

    Raises ``room.RoomError`` with the contract's code: login_required, live_ended,
    not_allowed, muted (retry_after: seconds left; none for the rest of the live),
    comments_off, followers_only, slow_mode (retry_after), invalid, empty, too_long,
    blocked_word. Staff (host, moderators, admins) skip comments-off, followers-only and
    slow mode; guests on stage skip followers-only.
    """
    user = room.require_member(user)
    room.require_live(live)
    now = utcnow()
    _require_standing(live, user, now)

    role = room.role_of(live, user)
    staff = role in room.STAFF_ROLES
    settings = _settings(live)
    if settings.comments_off and not staff:
        raise room.RoomError("comments_off", _("Comments are turned off for now."), status=403)
    if (
        settings.followers_only
        and not staff
        and role != room.RoomRole.GUEST
        and not room.follows_host(live, user)
    ):
        raise room.RoomError("followers_only", _("Only the host's followers can chat right now."), status=403)
    if settings.slow_mode_seconds and not staff:
        last = _last_sent_at(live, user)
        if last is not None:
            wait = settings.slow_mode_seconds - (now - last).total_seconds()
            if wait > 0:
                raise room.RoomError(
                    "slow_mode",
                    _("Slow mode is on: one message every %(n)s s.", n=settings.slow_mode_seconds),
                    retry_after=wait,
                    status=429,
                )

    if not isinstance(body, str):
        raise room.RoomError("invalid", _("This request is not valid."), status=422)
    text = clean_body(body)
    if not text:
        raise room.RoomError("empty", _("Write a message first."), status=422)
    limit = int(get_setting("CHAT_MAX_LENGTH"))
    if len(text) > limit:
        raise room.RoomError("too_long", _("A message has %(n)s characters at most.", n=limit), status=422)
    if blocked_word_in(text, host_blocked_words(live.host_id)) is not None:
        raise room.RoomError(
            "blocked_word", _("This message contains a word the host does not allow."), status=422
        )

    message = ChatMessage(
        live_id=live.id, user_id=user.id, body=text, created_at=now, offset_ms=room.offset_ms(live, now)
    )
    message.user = user
    db.session.add(message)
    db.session.flush()
    payload = message_payload(message, role)
    db.session.commit()
    realtime.emit_to_live(live.id, "chat", payload)
    return payload


# -- what a connection is told -------------------------------------------------------------
def muted_until(live: Live, user: User | None, now: datetime | None = None) -> str | None:
    """``you.muted_until``: an ISO time, "live" (the rest of the live) or None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    mute = room.active_mute(live, user.id, now or utcnow())
    if mute is None:
        return None
    return "live" if mute.until is None else mute.until.isoformat()


def can_chat(live: Live, user: User | None, role: room.RoomRole, muted: str | None = None) -> bool:
    """Whether a message from this person would pass the room's standing rules now
    (slow mode and the text itself aside): what the composer shows."""
    if user is None or not getattr(user, "is_authenticated", False) or not live.is_live:
        return False
    if muted is not None or user.is_banned:
        return False
    if room.is_banned_by_host(live.host_id, user.id) or room.is_kicked(live, user.id):
        return False
    if role in room.STAFF_ROLES:
        return True
    settings = _settings(live)
    if settings.comments_off:
        return False
    if settings.followers_only and role != room.RoomRole.GUEST:
        return room.follows_host(live, user)
    return True


def you_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    muted = muted_until(live, user)
    return {"can_chat": can_chat(live, user, role, muted), "muted_until": muted}


def state_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    return {"messages": payloads(live, recent_messages(live))}

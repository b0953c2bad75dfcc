"""The live room's core: who someone is in a live, rate limits, room errors and payloads.

Chat (services/chat.py), questions (services/questions.py), moderation
(services/moderation.py, services/moderators.py) and guests (services/guests.py) build on
these, so that the socket handlers and the API apply exactly the same rules.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import (
    Follow,
    GuestStatus,
    HostBan,
    Live,
    LiveGuest,
    LiveSanction,
    Moderator,
    RoomSettings,
    SanctionKind,
    User,
)
from livelite.models.base import utcnow
from livelite.services.errors import DomainError, PermissionDenied

CHAT_HISTORY = 50


class RoomRole(str, enum.Enum):
    """What a person is in one live, from least to most powerful."""

    VISITOR = "visitor"  # not logged in: may watch public lives and read the chat
    VIEWER = "viewer"
    GUEST = "guest"  # on stage (publishes a feed)
    MODERATOR = "moderator"  # appointed by the host, or a site moderator
    HOST = "host"
    ADMIN = "admin"


STAFF_ROLES = {RoomRole.MODERATOR, RoomRole.HOST, RoomRole.ADMIN}


class RoomError(DomainError):
    """A room action refused: ``code`` for programs, ``message`` for people, and how
    many seconds to wait when waiting would help (rate limits, slow mode, mutes)."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None, status: int = 400):
        super().__init__(message)
        self.code = code
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))
        self.status = status

    def payload(self) -> dict:
        body = {"ok": False, "code": self.code, "error": self.message}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


def error_payload(exc: DomainError) -> dict:
    """The ``room_error`` event / ack body for any domain error."""
    if isinstance(exc, RoomError):
        return exc.payload()
    code = {403: "not_allowed", 404: "not_found", 409: "conflict", 422: "invalid"}.get(exc.status, "invalid")
    return {"ok": False, "code": code, "error": exc.message}


# -- roles ---------------------------------------------------------------------------
def is_moderator_of(host_id: int, user_id: int) -> bool:
    return db.session.get(Moderator, {"host_id": host_id, "user_id": user_id}) is not None


def is_guest(live: Live, user_id: int) -> bool:
    row = db.session.scalar(
        select(LiveGuest).where(LiveGuest.live_id == live.id, LiveGuest.user_id == user_id)
    )
    return row is not None and row.status == GuestStatus.ACTIVE


def role_of(live: Live, user: User | None) -> RoomRole:
    if user is None or not getattr(user, "is_authenticated", False):
        return RoomRole.VISITOR
    if user.id == live.host_id:
        return RoomRole.HOST
    if user.is_admin:
        return RoomRole.ADMIN
    if user.is_site_moderator or is_moderator_of(live.host_id, user.id):
        return RoomRole.MODERATOR
    if is_guest(live, user.id):
        return RoomRole.GUEST
    return RoomRole.VIEWER


def is_staff(live: Live, user: User | None) -> bool:
    """Host, the host's moderators, site moderators and admins moderate a live."""
    return role_of(live, user) in STAFF_ROLES


def require_staff(live: Live, user: User | None) -> RoomRole:
    role = role_of(live, user)
    if role not in STAFF_ROLES:
        raise RoomError("not_allowed", _("Only the host and moderators can do this."), status=403)
    return role


def require_host(live: Live, user: User | None) -> None:
    """The host (or a site admin acting for them)."""
    if role_of(live, user) not in (RoomRole.HOST, RoomRole.ADMIN):
        raise RoomError("not_allowed", _("Only the host can do this."), status=403)


def login_message() -> str:
    return _("Log in to take part.")


def ended_message() -> str:
    return _("This live has ended.")


def banned_message() -> str:
    return _("Your account is banned.")


def require_member(user: User | None) -> User:
    if user is None or not getattr(user, "is_authenticated", False):
        raise RoomError("login_required", login_message(), status=403)
    return user


def require_live(live: Live) -> None:
    if not live.is_live:
        raise RoomError("live_ended", ended_message(), status=409)


# -- sanctions -----------------------------------------------------------------------
def is_banned_by_host(host_id: int, user_id: int) -> bool:
    return db.session.get(HostBan, {"host_id": host_id, "user_id": user_id}) is not None


def is_kicked(live: Live, user_id: int) -> bool:
    return (
        db.session.scalar(
            select(LiveSanction.id).where(
                LiveSanction.live_id == live.id,
                LiveSanction.user_id == user_id,
                LiveSanction.kind == SanctionKind.KICK,
                LiveSanction.lifted_at.is_(None),
            )
        )
        is not None
    )


def standing(live: Live, user_id: int, now: datetime | None = None) -> tuple[bool, LiveSanction | None]:
    """``(is_kicked, active_mute)`` in one query: the chat path checks both per message."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(LiveSanction).where(
            LiveSanction.live_id == live.id,
            LiveSanction.user_id == user_id,
            LiveSanction.lifted_at.is_(None),
        )
    )
    kicked, mute = False, None
    for row in rows:
        if row.kind == SanctionKind.KICK:
            kicked = True
        elif mute is None and (row.until is None or row.until > now):
            mute = row
    return kicked, mute


def active_mute(live: Live, user_id: int, now: datetime | None = None) -> LiveSanction | None:
    """The mute in force on this person in this live, if any (``until`` None: rest of live)."""
    now = now or utcnow()
    rows = db.session.scalars(
        select(LiveSanction).where(
            LiveSanction.live_id == live.id,
            LiveSanction.user_id == user_id,
            LiveSanction.kind == SanctionKind.MUTE,
            LiveSanction.lifted_at.is_(None),
        )
    )
    for row in rows:
        if row.until is None or row.until > now:
            return row
    return None


def require_may_join(live: Live, user: User | None) -> None:
    """Kicked from this live or banned by its host: no way back in."""
    if user is None or not getattr(user, "is_authenticated", False) or user.id == live.host_id:
        return
    if is_banned_by_host(live.host_id, user.id):
        raise PermissionDenied(_("The host has banned you from their lives."))
    if is_kicked(live, user.id):
        raise PermissionDenied(_("You were removed from this live."))


def follows_host(live: Live, user: User) -> bool:
    return db.session.get(Follow, {"follower_id": user.id, "followed_id": live.host_id}) is not None


# -- per-live settings ---------------------------------------------------------------
def settings_of(live: Live) -> RoomSettings:
    """The live's room settings row, created with defaults on first use."""
    row = db.session.get(RoomSettings, live.id)
    if row is None:
        row = RoomSettings(live_id=live.id)
        db.session.add(row)
        db.session.flush()
    return row


def settings_payload(row: RoomSettings) -> dict:
    return {
        "slow_mode_seconds": row.slow_mode_seconds or 0,
        "followers_only": bool(row.followers_only),
        "comments_off": bool(row.comments_off),
        "anonymous_questions": bool(row.anonymous_questions),
    }


def offset_ms(live: Live, now: datetime | None = None) -> int:
    """Milliseconds since the live started (0 before): where the replay puts it."""
    if live.started_at is None:
        return 0
    return max(0, int(((now or utcnow()) - live.started_at).total_seconds() * 1000))


def user_payload(user: User | None) -> dict | None:
    from livelite.templating import avatar_url

    if user is None:
        return None
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": avatar_url(user),
    }


# -- what a connection is told --------------------------------------------------------
def you_payload(live: Live, user: User | None, role: RoomRole | None = None) -> dict:
    """The ``you`` object: this person's role and standing in the live. Each room
    feature adds its part (chat: can_chat, muted_until; questions: voted,
    next_question_at; guests: guest_status)."""
    from livelite.services import chat, gifts, guests, questions

    role = role or role_of(live, user)
    you = {"user_id": user.id if user is not None else None, "role": role.value}
    for feature in (chat, questions, guests, gifts):
        you.update(feature.you_part(live, user, role))
    return you


def emit_you(live: Live, user: User) -> None:
    """Tell every connection of this person to this live how they stand now."""
    from livelite.realtime import emit_to_member

    emit_to_member(live.id, user.id, "you", you_payload(live, user))


def state_payload(live: Live, user: User | None, viewers: int) -> dict:
    """Everything a new connection needs to draw the room (``room_state``)."""
    from livelite.services import chat, gifts, guests, questions

    role = role_of(live, user)
    settings = settings_of(live)
    state = {
        "live_id": live.id,
        "viewers": viewers,
        "likes": settings.likes,
        "settings": settings_payload(settings),
        "you": you_payload(live, user, role),
    }
    for feature in (chat, questions, guests, gifts):
        state.update(feature.state_part(live, user, role))
    db.session.commit()  # settings_of may have created the row
    return state


# -- rate limits ---------------------------------------------------------------------
class RateLimiter:
    """Token buckets per key, in this process (``cluster.RedisRateLimiter`` keeps them in
    Redis when several processes serve the site).

    Cheap enough to run before any database work, so a flooding client is turned
    away without slowing the room for others.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def hit(self, key: str, capacity: float, per_seconds: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens; 0 when allowed, else the seconds until it would be."""
        now = self._clock()
        rate = capacity / per_seconds
        with self._lock:
            tokens, stamp = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - stamp) * rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                if len(self._buckets) > 100_000:
                    self._prune(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (cost - tokens) / rate

    def reset(self, key: str) -> None:
        with self._lock:
            self._buckets.pop(key, None)

    def _prune(self, now: float) -> None:
        # Buckets idle for ten minutes are full again: forgetting them changes nothing.
        for key in [k for k, (_t, stamp) in self._buckets.items() if now - stamp > 600]:
            del self._buckets[key]


def limiter() -> RateLimiter:
    return current_app.extensions["livelite.room_limits"]


def check_rate(kind: str, user_id: int, capacity: float, per_seconds: float, cost: float = 1.0) -> None:
    """Raise ``rate_limited`` with the wait when this person is going too fast."""
    wait = limiter().hit(f"{kind}:{user_id}", capacity, per_seconds, cost)
    if wait > 0:
        raise RoomError(
            "rate_limited",
            _("You are going too fast. Try again in %(n)s s.", n=max(1, math.ceil(wait))),
            retry_after=wait,
            status=429,
        )


def init_app(app) -> None:
    from livelite import cluster

    shared = cluster.of(app)
    local = RateLimiter()
    app.extensions["livelite.room_limits"] = (
        cluster.RedisRateLimiter(shared, local) if shared.shared else local
    )

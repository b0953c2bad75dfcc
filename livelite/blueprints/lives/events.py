"""Socket.IO namespace /live: joining a live's room (docs/realtime.md).

connect (client → server), auth ``{"live_id": int, "invite": str?, "token": str?}``:
joins the live's rooms if the person may watch, then the new connection gets
``room_state`` and everyone gets ``viewers`` (at most once a second per live:
realtime.ViewerCounts). A connection belongs to one live for its
whole life, so room events carry no live id: the server knows it from the connection.

The room's own events live next to this module: room_events.py (chat, likes,
moderation, reports), qa_events.py (questions), guest_events.py (guests). Each uses
``act`` so that every event gets the same checks, in the same order: a known
connection, the rate limit (before any database work), then the service's rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room

from livelite.extensions import db, socketio
from livelite.models import Live, User
from livelite.realtime import LIVE_NAMESPACE, live_room, member_room, staff_room
from livelite.services import analytics, lives, room, tokens
from livelite.services.errors import DomainError


@dataclass(frozen=True)
class Member:
    """Who is behind one connection, fixed at connect."""

    live_id: int
    user_id: int | None
    # False for a read-only API token: it may watch and read, not act.
    can_act: bool


def _members() -> dict[str, Member]:
    return current_app.extensions.setdefault("livelite.room_members", {})


def member() -> Member | None:
    return _members().get(request.sid)


def _identity(user: User | None) -> str:
    if user is not None:
        return f"user:{user.id}"
    # Visitors: one id per browser session, so reloads do not inflate the count.
    if "visitor_id" not in session:
        session["visitor_id"] = uuid.uuid4().hex
    return f"visitor:{session['visitor_id']}"


def _connecting_user(auth: dict) -> tuple[User | None, bool]:
    """The session's user, else an API token's (``auth.token``); with whether it may act."""
    if current_user.is_authenticated:
        return current_user._get_current_object(), True
    secret = auth.get("token")
    if isinstance(secret, str) and secret:
        found = tokens.user_for_secret(secret)
        if found is None:
            raise ConnectionRefusedError("invalid token")
        user, token = found
        return user, "write" in token.scope_list
    return None, False


@socketio.on("connect", namespace=LIVE_NAMESPACE)
def on_connect(auth):
    """A viewer opens a live page (or a program connects with a token)."""
    auth = auth if isinstance(auth, dict) else {}
    try:
        live = lives.get_live(int(auth.get("live_id")))
        user, can_act = _connecting_user(auth)
        lives.require_watch(live, user, auth.get("invite"))
        room.require_may_join(live, user)
    except (TypeError, ValueError, OverflowError, DomainError) as exc:  # OverflowError: int(1e400)
        raise ConnectionRefusedError(getattr(exc, "message", "bad live id")) from None
    join_room(live_room(live.id))
    if user is not None:
        join_room(member_room(live.id, user.id))
        if room.is_staff(live, user):
            join_room(staff_room(live.id))
    _members()[request.sid] = Member(live.id, user.id if user else None, can_act)
    presence = current_app.extensions["livelite.presence"]
    if user is not None and user.id == live.host_id:
        # The host's studio (or their own tab) is not audience: the count is of others.
        count = presence.count(live.id)
    else:
        identity = _identity(user)
        count, first = presence.join(live.id, identity, request.sid)
        if first:
            if live.is_live:
                analytics.attendance_join(live.id, identity)
            # Only a new person changes the count (not a second tab, not the host).
            current_app.extensions["livelite.viewer_counts"].changed(live.id)
    emit("room_state", room.state_payload(live, user, count))


@socketio.on("disconnect", namespace=LIVE_NAMESPACE)
def on_disconnect(*_args):
    _members().pop(request.sid, None)
    left = current_app.extensions["livelite.presence"].leave(request.sid)
    if left is not None:
        live_id, _count, identity, last = left
        if last:
            analytics.attendance_leave(live_id, identity)
            current_app.extensions["livelite.viewer_counts"].changed(live_id)


def act(action, *, rate: tuple[str, float, float] | None = None, cost: float = 1.0, login: bool = True):
    """Run one room action for the connection that sent the event.

    ``action(live, user)`` returns the acknowledgement's extra fields (a dict) or None.
    ``rate`` is ``(kind, capacity, per_seconds)``, checked before the database is
    touched. A refusal is sent back both as the acknowledgement and as a
    ``room_error`` event to this connection only; nothing changes for anyone.
    """
    who = member()
    try:
        if who is None:
            raise room.RoomError("not_joined", "not connected to a live")
        if login and (who.user_id is None or not who.can_act):
            raise room.RoomError("login_required", room.login_message(), status=403)
        if rate is not None and who.user_id is not None:
            kind, capacity, per_seconds = rate
            room.check_rate(kind, who.user_id, capacity, per_seconds, cost)
        live = db.session.get(Live, who.live_id)
        user = db.session.get(User, who.user_id) if who.user_id is not None else None
        if live is None:
            raise room.RoomError("live_ended", room.ended_message())
        if user is not None and user.is_banned:
            raise room.RoomError("not_allowed", room.banned_message(), status=403)
        result = action(live, user) or {}
    except DomainError as exc:
        db.session.rollback()
        body = room.error_payload(exc)
        emit("room_error", body)
        return body
    return {"ok": True, **result}

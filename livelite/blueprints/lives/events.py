"""Socket.IO events of the /live namespace for watching (see docs/realtime.md).

connect (client → server), auth ``{"live_id": int, "invite": str?}``: joins the live's
room if the person may watch; everyone in the room then gets ``viewers`` ``{"count"}``.
Server → room: ``live_ended`` ``{"live_id", "reason"}``, ``preview`` ``{"live_id"}``.
"""

from __future__ import annotations

import uuid

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from livelite.extensions import socketio
from livelite.realtime import LIVE_NAMESPACE, emit_to_live, live_room
from livelite.services import lives
from livelite.services.errors import DomainError


def _identity() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    # Visitors: one id per browser session, so reloads do not inflate the count.
    if "visitor_id" not in session:
        session["visitor_id"] = uuid.uuid4().hex
    return f"visitor:{session['visitor_id']}"


@socketio.on("connect", namespace=LIVE_NAMESPACE)
def on_connect(auth):
    """A viewer opens a live page."""
    auth = auth if isinstance(auth, dict) else {}
    try:
        live = lives.get_live(int(auth.get("live_id")))
        lives.require_watch(live, current_user if current_user.is_authenticated else None, auth.get("invite"))
    except (TypeError, ValueError, DomainError) as exc:
        raise ConnectionRefusedError(getattr(exc, "message", "bad live id")) from None
    join_room(live_room(live.id))
    presence = current_app.extensions["livelite.presence"]
    count = presence.join(live.id, _identity(), request.sid)
    emit_to_live(live.id, "viewers", {"live_id": live.id, "count": count})


@socketio.on("disconnect", namespace=LIVE_NAMESPACE)
def on_disconnect(*_args):
    presence = current_app.extensions["livelite.presence"]
    left = presence.leave(request.sid)
    if left is not None:
        live_id, count = left
        emit_to_live(live_id, "viewers", {"live_id": live_id, "count": count})

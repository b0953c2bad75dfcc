"""Socket.IO /live: appointing moderators from the room, and reporting (docs/realtime.md).

Thin handlers over services.moderators and services.reports through ``events.act``,
which checks the connection and turns refusals into the ack and a ``room_error``.
"""

from __future__ import annotations

from flask_babel import gettext as _

from livelite.blueprints.lives.events import act
from livelite.extensions import db, socketio
from livelite.models import Live, User
from livelite.models.base import is_id
from livelite.realtime import LIVE_NAMESPACE
from livelite.services import moderators, reports
from livelite.services.room import RoomError


def _invalid() -> RoomError:
    return RoomError("invalid", _("This request is not valid."), status=422)


def _int(data, key: str, *, required: bool) -> int | None:
    """An id from the payload: a positive integer a database holds (booleans are not
    numbers here)."""
    value = data.get(key) if isinstance(data, dict) else None
    if value is None and not required:
        return None
    if not is_id(value):
        raise _invalid()
    return value


@socketio.on("moderator_set", namespace=LIVE_NAMESPACE)
def on_moderator_set(data=None):
    """The host (or an admin) sends ``{user_id, moderator: bool}`` to appoint or remove
    a moderator of all their lives. Their connections join or leave the staff room and
    get ``you`` (services.moderators); the appointed person is notified."""

    def action(live: Live, user: User):
        target_id = _int(data, "user_id", required=True)
        flag = data.get("moderator")
        if not isinstance(flag, bool):
            raise _invalid()
        target = db.session.get(User, target_id)
        if target is None:
            raise RoomError("not_found", _("No such user."), status=404)
        if flag:
            moderators.appoint(live.host, user, target)
        else:
            moderators.remove(live.host, user, target)
        return {"user_id": target.id, "moderator": flag}

    return act(action)


@socketio.on("report", namespace=LIVE_NAMESPACE)
def on_report(data=None):
    """Anyone logged in sends ``{message_id? | user_id?, reason}`` to report a message of
    this live or a person to the site admins; nothing is broadcast (admins are notified).
    Ten reports an hour per person (counted by services.reports)."""

    def action(live: Live, user: User):
        if not isinstance(data, dict) or not isinstance(data.get("reason", ""), str):
            raise _invalid()
        message_id = _int(data, "message_id", required=False)
        user_id = _int(data, "user_id", required=False)
        row = reports.create(
            user, live=live, message_id=message_id, user_id=user_id, reason=data.get("reason", "")
        )
        return {"report_id": row.id}

    # The hourly limit is counted in the database; this bucket only turns a flooding
    # client away before any query.
    return act(action, rate=("report", 5, 10))

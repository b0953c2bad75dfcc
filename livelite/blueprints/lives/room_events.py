"""Socket.IO namespace /live: chat, hearts and moderation events (docs/realtime.md).

Thin handlers: ``events.act`` checks the connection and the person's token bucket
before any database work, then the service (services/chat.py, likes.py,
moderation.py) applies every rule, commits, and tells the room. Here only the
payload's shape is checked: anything that is not the documented object is refused
with ``invalid``, never an exception.
"""

from __future__ import annotations

from flask_babel import gettext as _

from livelite.blueprints.lives.events import act
from livelite.extensions import socketio
from livelite.realtime import LIVE_NAMESPACE
from livelite.services import chat, likes, moderation
from livelite.services.room import RoomError
from livelite.services.settings import get_setting

CHAT_WINDOW_SECONDS = 10
# Staff act quickly during a raid, but a script looping on a moderation event is stopped.
MODERATION_RATE = ("moderation", 30, 10)


def _invalid() -> RoomError:
    return RoomError("invalid", _("This request is not valid."), status=422)


def _fields(data) -> dict:
    """The event's object; ``None`` (no payload) reads as an empty one."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _invalid()
    return data


def _refuse(error: RoomError):
    def action(_live, _user):
        raise error

    return action


# -- chat ----------------------------------------------------------------------------------
@socketio.on("chat_send", namespace=LIVE_NAMESPACE)
def on_chat_send(data=None):
    """A logged-in person sends ``{body}``; ``chat`` goes to the live's room and the ack
    carries the stored ``message``. ``CHAT_MESSAGES_PER_10S`` per person."""

    def action(live, user):
        body = _fields(data).get("body")
        if not isinstance(body, str):
            raise _invalid()
        return {"message": chat.send_message(live, user, body)}

    rate = ("chat", int(get_setting("CHAT_MESSAGES_PER_10S")), CHAT_WINDOW_SECONDS)
    return act(action, rate=rate)


# -- hearts ----------------------------------------------------------------------------------
@socketio.on("like", namespace=LIVE_NAMESPACE)
def on_like(data=None):
    """A logged-in person sends ``{count}`` hearts (1–50, the taps of a moment). Each
    heart costs one token of their ``LIKES_PER_SECOND`` bucket; the room gets one
    ``likes`` {total, added} per second at most (services.likes)."""
    count = data.get("count") if isinstance(data, dict) else None
    try:
        count = likes.check_count(count)
    except RoomError as exc:
        return act(_refuse(exc))
    per_second = int(get_setting("LIKES_PER_SECOND"))
    if count > per_second:
        # No wait would ever let this many through at once: say so, without retry_after.
        too_many = RoomError(
            "rate_limited", _("You can send %(n)s hearts a second at most.", n=per_second), status=429
        )
        return act(_refuse(too_many))
    return act(
        lambda live, user: {"count": likes.add(live, user, count)},
        rate=("likes", per_second, 1),
        cost=count,
    )


# -- moderation (staff) --------------------------------------------------------------------------
@socketio.on("message_delete", namespace=LIVE_NAMESPACE)
def on_message_delete(data=None):
    """Staff delete ``{message_id}``: ``chat_removed`` {ids, reason: "deleted"} to the room."""

    def action(live, user):
        message = moderation.delete_message(live, user, _fields(data).get("message_id"))
        return {"id": message.id}

    return act(action, rate=MODERATION_RATE)


@socketio.on("user_mute", namespace=LIVE_NAMESPACE)
def on_user_mute(data=None):
    """Staff mute ``{user_id, duration: "1m"|"10m"|"live"}`` (not the host or staff): their
    messages go (``chat_removed``, reason "muted") and their tabs get ``you``."""

    def action(live, user):
        fields = _fields(data)
        sanction = moderation.mute(live, user, fields.get("user_id"), fields.get("duration"))
        until = sanction.until.isoformat() if sanction.until is not None else "live"
        return {"user_id": sanction.user_id, "muted_until": until}

    return act(action, rate=MODERATION_RATE)


@socketio.on("user_unmute", namespace=LIVE_NAMESPACE)
def on_user_unmute(data=None):
    """Staff lift a mute ``{user_id}``; the person's tabs get ``you``."""

    def action(live, user):
        user_id = _fields(data).get("user_id")
        moderation.unmute(live, user, user_id)
        return {"user_id": user_id}

    return act(action, rate=MODERATION_RATE)


@socketio.on("user_kick", namespace=LIVE_NAMESPACE)
def on_user_kick(data=None):
    """Staff remove ``{user_id}`` from this live: ``kicked`` to their tabs, which are closed."""

    def action(live, user):
        user_id = _fields(data).get("user_id")
        moderation.kick(live, user, user_id)
        return {"user_id": user_id}

    return act(action, rate=MODERATION_RATE)


@socketio.on("user_ban", namespace=LIVE_NAMESPACE)
def on_user_ban(data=None):
    """Staff ban ``{user_id}`` from every live of this host; kicked from this one."""

    def action(live, user):
        user_id = _fields(data).get("user_id")
        moderation.ban(live, user, user_id)
        return {"user_id": user_id}

    return act(action, rate=MODERATION_RATE)


@socketio.on("room_settings", namespace=LIVE_NAMESPACE)
def on_room_settings(data=None):
    """Staff change any of ``{slow_mode_seconds, followers_only, comments_off,
    anonymous_questions}``; ``room_settings`` with all four goes to the room."""

    def action(live, user):
        fields = _fields(data)
        # Only known keys reach the service as keyword arguments.
        if not fields or any(key not in moderation.SETTING_FIELDS for key in fields):
            raise _invalid()
        return {"settings": moderation.update_settings(live, user, **fields)}

    return act(action, rate=MODERATION_RATE)

"""Socket.IO /live: multi-guest events (docs/realtime.md, "guest_*").

Thin handlers: each parses its payload and calls services/guests.py through ``act``,
which checks the connection and the rate limit first and turns a refusal into the
acknowledgement plus a ``room_error`` to the sender. The service commits, then emits
``guests`` to the staff room, ``feeds`` to the live and ``you`` to the person.
"""

from __future__ import annotations

from flask_babel import gettext as _

from livelite.blueprints.lives.events import act
from livelite.extensions import socketio
from livelite.models import LiveGuest
from livelite.models.base import is_id
from livelite.realtime import LIVE_NAMESPACE
from livelite.services import accounts, guests, room

# Asking to join is what a viewer could spam the host with; other guest actions are freer.
REQUEST_RATE = ("guest_request", 5, 60)
ACTION_RATE = ("guest_action", 30, 60)


def _invalid() -> room.RoomError:
    return room.RoomError("invalid", _("Say who: a user_id (or a username to invite)."))


def _empty(payload) -> None:
    """guest_request and guest_cancel take ``{}`` (or nothing)."""
    if payload is not None and not isinstance(payload, dict):
        raise room.RoomError("invalid", _("This event takes no data."))


def _target(payload, *, by_username: bool = False) -> int:
    """The person an event is about: ``user_id``, or ``username`` where allowed."""
    if not isinstance(payload, dict):
        raise _invalid()
    user_id = payload.get("user_id")
    if is_id(user_id):
        return user_id
    username = payload.get("username")
    if by_username and user_id is None and isinstance(username, str) and 0 < len(username.strip()) <= 64:
        return accounts.get_by_username(username.strip().lstrip("@")).id
    raise _invalid()


def _answer(row: LiveGuest) -> dict:
    return {"guest": guests.guest_payload(row)}


@socketio.on("guest_request", namespace=LIVE_NAMESPACE)
def on_guest_request(payload=None):
    """A viewer asks to join the stage → ``guests`` to staff, ``you`` to them."""

    def action(live, user):
        _empty(payload)
        return _answer(guests.request(live, user))

    return act(action, rate=REQUEST_RATE)


@socketio.on("guest_cancel", namespace=LIVE_NAMESPACE)
def on_guest_cancel(payload=None):
    """Withdraw a request, decline an invitation or leave the stage → ``guests`` to
    staff, ``you`` to them, ``feeds`` to the live when they were on stage."""

    def action(live, user):
        _empty(payload)
        return _answer(guests.cancel(live, user))

    return act(action, rate=ACTION_RATE)


@socketio.on("guest_invite", namespace=LIVE_NAMESPACE)
def on_guest_invite(payload=None):
    """The host invites ``{user_id}`` or ``{username}`` → a notification, ``guests``
    to staff, ``you`` to the person."""
    return act(
        lambda live, user: _answer(guests.invite(live, user, _target(payload, by_username=True))),
        rate=ACTION_RATE,
    )


@socketio.on("guest_accept", namespace=LIVE_NAMESPACE)
def on_guest_accept(payload=None):
    """The host accepts a request, or the invited person their invitation → ``guests``
    to staff, ``you`` to the guest."""
    return act(lambda live, user: _answer(guests.accept(live, user, _target(payload))), rate=ACTION_RATE)


@socketio.on("guest_remove", namespace=LIVE_NAMESPACE)
def on_guest_remove(payload=None):
    """The host takes ``{user_id}`` off the stage (or declines / withdraws) → their feed
    ends; ``guests`` to staff, ``feeds`` to the live, ``you`` to the person."""
    return act(lambda live, user: _answer(guests.remove(live, user, _target(payload))), rate=ACTION_RATE)

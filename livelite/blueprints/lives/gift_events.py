"""Socket.IO namespace /live: gifts, the gift picker's state and the LIVE goal
(docs/realtime.md, "Gifts").

Thin handlers: check the payload's shape, then let ``events.act`` run the service in
services/gifts.py, which holds every rule, commits, and only then tells the room. The
token buckets only turn a flooding client away before any database work: the money is
safe without them (the ledger's idempotency keys and conditional debits).
"""

from __future__ import annotations

from flask_babel import gettext as _

from livelite.blueprints.lives.events import act
from livelite.extensions import socketio
from livelite.realtime import LIVE_NAMESPACE
from livelite.services import gifts, ledger
from livelite.services.room import RoomError

# (kind, capacity, per seconds) per person.
SEND_RATE = ("gift_send", 10, 1)
STATE_RATE = ("gift_state", 10, 10)
GOAL_RATE = ("gift_goal", 10, 10)


def _fields(data) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RoomError("invalid", _("This request is not valid."))
    return data


def _send(live, user, data) -> dict:
    fields = _fields(data)
    sent = gifts.send_gift(
        live,
        user,
        fields.get("receiver_id"),
        fields.get("gift_id"),
        fields.get("quantity", 1),
        fields.get("idempotency_key"),
    )
    return {
        "gift_send": sent.payload(),
        "balance": ledger.balance(sent.send.sender_id),
        "replayed": not sent.created,
    }


@socketio.on("gift_send", namespace=LIVE_NAMESPACE)
def on_gift_send(data=None):
    """A logged-in viewer sends ``{receiver_id, gift_id, quantity?, idempotency_key}``:
    ``gift``, ``top_gifters`` (and ``goal``) go to the live's room, ``balance`` to the
    sender's own connections; the ack has the send and the new balance. The same key
    again answers with the first send and charges nothing."""
    return act(lambda live, user: _send(live, user, data), rate=SEND_RATE)


def _state(live, user, data) -> dict:
    _fields(data)
    return gifts.gift_state(live, user)


@socketio.on("gift_state", namespace=LIVE_NAMESPACE)
def on_gift_state(data=None):
    """Anyone connected (visitors too) asks for the picker's state: the catalogue, who
    can receive, the goal, the top gifters, and their coins (null for visitors)."""
    return act(lambda live, user: _state(live, user, data), rate=STATE_RATE, login=False)


def _goal_set(live, user, data) -> dict:
    fields = _fields(data)
    return {"goal": gifts.set_goal(live, user, fields.get("target_coins"), fields.get("label", ""))}


@socketio.on("goal_set", namespace=LIVE_NAMESPACE)
def on_goal_set(data=None):
    """The host sets ``{target_coins, label?}``: ``goal`` to the live's room."""
    return act(lambda live, user: _goal_set(live, user, data), rate=GOAL_RATE)


@socketio.on("goal_clear", namespace=LIVE_NAMESPACE)
def on_goal_clear(data=None):
    """The host takes the goal bar away: ``goal`` with ``target`` null to the room."""
    return act(lambda live, user: {"goal": gifts.clear_goal(live, user)}, rate=GOAL_RATE)

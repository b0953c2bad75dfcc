"""Socket.IO namespace /live: live Q&A events (docs/realtime.md, "Actions").

Thin handlers: check the payload's shape, then let ``events.act`` run the service in
services/questions.py, which holds every rule and sends the broadcasts. The token
buckets here only turn a flooding client away before any database work; the "one
question per QUESTION_INTERVAL_SECONDS" rule itself is the service's, read from the
database.
"""

from __future__ import annotations

from flask_babel import gettext as _

from livelite.blueprints.lives.events import act
from livelite.extensions import socketio
from livelite.models.base import is_id
from livelite.realtime import LIVE_NAMESPACE
from livelite.services import questions
from livelite.services.room import RoomError

# (kind, capacity, per seconds): a burst guard per person, looser than the service's rule.
ASK_RATE = ("question_ask", 3, 60)
VOTE_RATE = ("question_vote", 20, 10)
STAFF_RATE = ("question_staff", 30, 10)


def _invalid() -> RoomError:
    return RoomError("invalid", _("This request is not valid."))


def _fields(data) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _invalid()
    return data


def _question_id(data) -> int:
    value = _fields(data).get("question_id")
    # Not true (question 1 for Python), nor a number too large for the database.
    if not is_id(value):
        raise _invalid()
    return value


def _ask(live, user, data) -> dict:
    fields = _fields(data)
    body = fields.get("body")
    anonymous = fields.get("anonymous", False)
    if not isinstance(body, str) or not isinstance(anonymous, bool):
        raise _invalid()
    question = questions.ask(live, user, body, anonymous=anonymous)
    ready = questions.next_question_at(live, user)
    return {
        "question": questions.question_payload(question),
        "next_question_at": ready.isoformat() if ready else None,
    }


@socketio.on("question_ask", namespace=LIVE_NAMESPACE)
def on_question_ask(data=None):
    """A logged-in person asks ``{body, anonymous?}``; ``question`` goes to the live's
    room; the ack carries the question and when they may ask again."""
    return act(lambda live, user: _ask(live, user, data), rate=ASK_RATE)


def _vote(live, user, data) -> dict:
    question = questions.vote(live, user, _question_id(data))
    return {"votes": question.votes}


@socketio.on("question_vote", namespace=LIVE_NAMESPACE)
def on_question_vote(data=None):
    """A logged-in person upvotes ``{question_id}`` (once, not their own, open only);
    ``question`` with the new count goes to the live's room; the ack has ``votes``."""
    return act(lambda live, user: _vote(live, user, data), rate=VOTE_RATE)


def _answer(live, user, data) -> dict:
    return {"question": questions.question_payload(questions.answer(live, user, _question_id(data)))}


@socketio.on("question_answer", namespace=LIVE_NAMESPACE)
def on_question_answer(data=None):
    """Staff answer ``{question_id}``: it is pinned for everyone (``question`` and
    ``pinned`` to the live's room)."""
    return act(lambda live, user: _answer(live, user, data), rate=STAFF_RATE)


def _dismiss(live, user, data) -> dict:
    return {"question": questions.question_payload(questions.dismiss(live, user, _question_id(data)))}


@socketio.on("question_dismiss", namespace=LIVE_NAMESPACE)
def on_question_dismiss(data=None):
    """Staff dismiss ``{question_id}``: ``question_removed`` to the live's room, the
    dismissed ``question`` to staff, ``pinned`` null if it was pinned."""
    return act(lambda live, user: _dismiss(live, user, data), rate=STAFF_RATE)


def _unpin(live, user, data) -> None:
    _fields(data)
    questions.unpin(live, user)


@socketio.on("question_unpin", namespace=LIVE_NAMESPACE)
def on_question_unpin(data=None):
    """Staff take the pinned question off every screen: ``pinned`` null to the room."""
    return act(lambda live, user: _unpin(live, user, data), rate=STAFF_RATE)

"""Who may do what in a live room: every client → server event × every role.

Each case builds the same room (a host, an admin, a moderator, a guest on stage, a plain
viewer, a creator who is not the host, a moderator appointed by another host, a target with a chat message, an asker with an open question, a person already
muted, a person asking to join, a pinned answered question), connects as one role and
sends one event. Allowed: the acknowledgement says ok and the database changed.
Refused: the acknowledgement and a ``room_error`` event say why, and the database is
exactly as it was — a forged event changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import PASSWORD, make_admin, make_user
from pages import submit
from sqlalchemy import select

from livelite.extensions import db, socketio
from livelite.models import (
    AccountKind,
    ChatMessage,
    GiftSend,
    GuestStatus,
    HostBan,
    LiveGoal,
    LiveGuest,
    LiveSanction,
    Moderator,
    Question,
    QuestionStatus,
    QuestionVote,
    Report,
    Role,
    RoomSettings,
    SanctionKind,
    TransactionType,
)
from livelite.models.base import utcnow
from livelite.services import gifts, ledger, lives

# "creator": may go live, but this is not their live; "other_mod": moderates another
# host's lives, not this one's.
ROLES = ("visitor", "viewer", "creator", "other_mod", "guest", "moderator", "host", "admin")
LOGGED_IN = {"viewer", "creator", "other_mod", "guest", "moderator", "host", "admin"}
STAFF = {"moderator", "host", "admin"}
HOST = {"host", "admin"}
# Gifts go to the host: everyone logged in but the host themselves.
GIFTERS = {"viewer", "creator", "other_mod", "guest", "moderator", "admin"}


# event → (payload builder, roles allowed). The builders read ids from the room.
ACTIONS = {
    "chat_send": (lambda c: {"body": "hello"}, LOGGED_IN),
    "like": (lambda c: {"count": 3}, LOGGED_IN),
    "question_ask": (lambda c: {"body": "What is next?"}, LOGGED_IN),
    "question_vote": (lambda c: {"question_id": c["open_question"]}, LOGGED_IN),
    "question_answer": (lambda c: {"question_id": c["open_question"]}, STAFF),
    "question_dismiss": (lambda c: {"question_id": c["open_question"]}, STAFF),
    "question_unpin": (lambda c: {}, STAFF),
    "message_delete": (lambda c: {"message_id": c["message"]}, STAFF),
    "user_mute": (lambda c: {"user_id": c["target"], "duration": "10m"}, STAFF),
    "user_unmute": (lambda c: {"user_id": c["muted"]}, STAFF),
    "user_kick": (lambda c: {"user_id": c["target"]}, STAFF),
    "user_ban": (lambda c: {"user_id": c["target"]}, STAFF),
    "room_settings": (lambda c: {"slow_mode_seconds": 10}, STAFF),
    "moderator_set": (lambda c: {"user_id": c["target"], "moderator": True}, HOST),
    "report": (lambda c: {"user_id": c["target"], "reason": "Spam links"}, LOGGED_IN),
    "guest_invite": (lambda c: {"user_id": c["target"]}, HOST),
    "guest_accept": (lambda c: {"user_id": c["requester"]}, HOST),
    "guest_remove": (lambda c: {"user_id": c["guest2"]}, HOST),
    "gift_send": (
        lambda c: {
            "receiver_id": c["host"],
            "gift_id": c["gift"],
            "quantity": 1,
            "idempotency_key": "matrix",
        },
        GIFTERS,
    ),
    "goal_set": (lambda c: {"target_coins": 500, "label": "Lights"}, HOST),
    "goal_clear": (lambda c: {}, HOST),
}


def snapshot() -> dict:
    """Everything a room event can change, in comparable form."""

    def rows(query):
        return sorted(tuple(r) for r in db.session.execute(query).all())

    return {
        "messages": rows(select(ChatMessage.id, ChatMessage.removed_reason)),
        "questions": rows(select(Question.id, Question.status, Question.votes)),
        "votes": rows(select(QuestionVote.question_id, QuestionVote.user_id)),
        "settings": rows(
            select(
                RoomSettings.live_id,
                RoomSettings.slow_mode_seconds,
                RoomSettings.followers_only,
                RoomSettings.comments_off,
                RoomSettings.anonymous_questions,
                RoomSettings.pinned_question_id,
                RoomSettings.likes,
            )
        ),
        "moderators": rows(select(Moderator.host_id, Moderator.user_id)),
        "sanctions": rows(select(LiveSanction.id, LiveSanction.kind, LiveSanction.lifted_at.is_(None))),
        "bans": rows(select(HostBan.host_id, HostBan.user_id)),
        "reports": rows(select(Report.id)),
        "guests": rows(select(LiveGuest.user_id, LiveGuest.status)),
        "gifts": rows(select(GiftSend.id, GiftSend.sender_id)),
        "goals": rows(select(LiveGoal.live_id, LiveGoal.target_coins, LiveGoal.label)),
    }


@pytest.fixture
def room_site(app):
    """The room described in the module docstring; returns the ids the payloads use."""
    with app.app_context():
        admin = make_admin()
        host = make_user("host", role=Role.CREATOR)
        creator = make_user("creator", role=Role.CREATOR)
        other_host = make_user("otherhost", role=Role.CREATOR)
        other_mod = make_user("othermod")
        db.session.add(Moderator(host_id=other_host.id, user_id=other_mod.id))
        users = {
            name: make_user(name)
            for name in ("mod", "guest", "guest2", "viewer", "target", "asker", "muted", "requester")
        }
        live = lives.start_live(host, title="Room", visibility="public")
        db.session.add(Moderator(host_id=host.id, user_id=users["mod"].id))
        db.session.add(LiveGuest(live_id=live.id, user_id=users["guest"].id, status=GuestStatus.ACTIVE))
        db.session.add(LiveGuest(live_id=live.id, user_id=users["guest2"].id, status=GuestStatus.ACTIVE))
        db.session.add(
            LiveGuest(live_id=live.id, user_id=users["requester"].id, status=GuestStatus.REQUESTED)
        )
        message = ChatMessage(live_id=live.id, user_id=users["target"].id, body="first!")
        db.session.add(message)
        pinned = Question(
            live_id=live.id,
            user_id=users["asker"].id,
            body="Answered already",
            status=QuestionStatus.ANSWERED,
            answered_at=utcnow(),
        )
        open_question = Question(live_id=live.id, user_id=users["asker"].id, body="How?")
        db.session.add_all([pinned, open_question])
        db.session.flush()
        db.session.add(RoomSettings(live_id=live.id, pinned_question_id=pinned.id))
        db.session.add(LiveGoal(live_id=live.id, target_coins=100, label="Goal"))
        db.session.add(
            LiveSanction(
                live_id=live.id,
                user_id=users["muted"].id,
                kind=SanctionKind.MUTE,
                until=utcnow() + timedelta(minutes=10),
                by_id=host.id,
            )
        )
        db.session.commit()
        # Coins for everyone who may send a gift (the admin's grant movement).
        for person in (admin, users["mod"], users["guest"], users["viewer"], creator, other_mod):
            ledger.post(
                TransactionType.GRANT,
                [
                    ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -10),
                    ledger.Leg(ledger.account_id(AccountKind.COINS, person), 10),
                ],
                key=f"matrix-grant:{person.id}",
                reference="test",
            )
        db.session.commit()
        ids = {
            "live": live.id,
            "host": host.id,
            "gift": gifts.catalogue()[0].id,
            "message": message.id,
            "open_question": open_question.id,
            "target": users["target"].id,
            "muted": users["muted"].id,
            "requester": users["requester"].id,
            "guest2": users["guest2"].id,
        }
        ids["usernames"] = {
            "viewer": "viewer",
            "creator": "creator",
            "other_mod": "othermod",
            "guest": "guest",
            "moderator": "mod",
            "host": "host",
            "admin": admin.username,
        }
    yield ids
    app.extensions["livelite.media"].shutdown()


def connect(app, live_id: int, username: str | None):
    browser = app.test_client()
    if username is not None:
        assert submit(browser, "/login", {"login": username, "password": PASSWORD}).status_code == 302
    client = socketio.test_client(
        app, namespace="/live", flask_test_client=browser, auth={"live_id": live_id}
    )
    assert client.is_connected("/live")
    client.get_received("/live")
    return client


def flush_likes(app):
    from livelite.services import likes

    with app.app_context():
        likes.aggregator(app).flush()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("event", sorted(ACTIONS))
def test_every_room_event_checks_the_senders_role(app, room_site, role, event):
    build, allowed = ACTIONS[event]
    username = None if role == "visitor" else room_site["usernames"][role]
    client = connect(app, room_site["live"], username)
    with app.app_context():
        before = snapshot()

    ack = client.emit(event, build(room_site), namespace="/live", callback=True)
    flush_likes(app)
    with app.app_context():
        after = snapshot()
    errors = [m["args"][0] for m in client.get_received("/live") if m["name"] == "room_error"]

    if role in allowed:
        assert ack["ok"] is True, ack
        assert after != before, f"{role} {event} was acknowledged but changed nothing"
        assert errors == []
    else:
        assert ack["ok"] is False
        assert ack["code"] == ("login_required" if role == "visitor" else "not_allowed"), ack
        assert errors == [ack]
        assert after == before, f"a forged {event} from a {role} changed the room"


def test_the_matrix_covers_every_client_event(app):
    """A new room event must join the matrix (guest_request and guest_cancel are a
    person's own moves on and off the stage, tested in test_room_guests.py; gift_state
    only reads, tested in test_gifts_sockets.py)."""
    names = set(socketio.server.handlers["/live"]) - {"connect", "disconnect"}
    assert "chat_send" in names
    assert names - set(ACTIONS) == {"guest_request", "guest_cancel", "gift_state"}

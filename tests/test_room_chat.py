"""Live chat over Socket.IO (docs/realtime.md, /live ``chat_send``): delivery, history,
offsets, every rule of services/chat.py, injection payloads, rate limits and a flood."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import make_token
from room_chat_support import (
    INJECTIONS,
    Clock,
    chat,
    drain,
    join,
    login,
    make_site,
    put_on_stage,
    received,
    room_state,
    send,
    start,
    user_id,
)
from sqlalchemy import func, select

from livelite.extensions import db, socketio
from livelite.models import BlockedWord, ChatMessage, Live, RoomSettings
from livelite.services import accounts, lives, moderation, settings
from livelite.services import chat as chat_service
from livelite.services.room import RateLimiter


@pytest.fixture
def site(app):
    with app.app_context():
        make_site()
    yield
    app.extensions["livelite.media"].shutdown()


@pytest.fixture
def clock(app, monkeypatch):
    fake = Clock()
    monkeypatch.setattr(chat_service, "utcnow", fake)
    monkeypatch.setattr(moderation, "utcnow", fake)
    app.extensions["livelite.room_limits"] = RateLimiter(clock=fake.monotonic)
    return fake


def stored(app, live_id: int, username: str | None = None) -> list[ChatMessage]:
    with app.app_context():
        stmt = select(ChatMessage).where(ChatMessage.live_id == live_id).order_by(ChatMessage.id)
        if username:
            stmt = stmt.where(ChatMessage.user_id == accounts.get_by_username(username).id)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows


def set_room(app, live_id: int, **values) -> None:
    with app.app_context():
        row = db.session.get(RoomSettings, live_id) or RoomSettings(live_id=live_id)
        for key, value in values.items():
            setattr(row, key, value)
        db.session.add(row)
        db.session.commit()


def refused(answer: dict, code: str) -> dict:
    assert answer["ok"] is False, answer
    assert answer["code"] == code, answer
    assert answer["error"]
    return answer


# -- delivery --------------------------------------------------------------------------------
def test_a_message_reaches_everyone_once_stored(app, site):
    live_id = start(app)
    fan, stranger, visitor, host = (join(app, live_id, n) for n in ("fan", "stranger", None, "maker"))
    drain(fan, stranger, visitor, host)

    answer = chat(fan, "  Hello, everyone!  ")

    assert answer["ok"] is True
    message = answer["message"]
    assert message["body"] == "Hello, everyone!"
    assert message["user"]["username"] == "fan" and message["role"] == "viewer"
    (row,) = stored(app, live_id)
    assert (row.id, row.body, row.user_id) == (message["id"], "Hello, everyone!", user_id(app, "fan"))
    assert message["at"] == row.created_at.isoformat()
    for client in (fan, stranger, visitor, host):
        assert received(client, "chat") == [message]


def test_the_message_says_the_authors_role_in_the_live(app, site):
    live_id = start(app)
    put_on_stage(app, live_id, "onstage")
    roles = {}
    for name in ("maker", "mod", "siteadmin", "onstage", "fan"):
        answer = chat(join(app, live_id, name), f"hi from {name}")
        assert answer["ok"] is True, answer
        roles[name] = answer["message"]["role"]
    assert roles == {
        "maker": "host",
        "mod": "moderator",
        "siteadmin": "admin",
        "onstage": "guest",
        "fan": "viewer",
    }
    # The history a newcomer gets tells the same.
    history = room_state(join(app, live_id))["messages"]
    assert [(m["user"]["username"], m["role"]) for m in history] == list(roles.items())


def test_a_newcomer_gets_the_last_50_visible_messages_oldest_first(app, site):
    live_id = start(app)
    with app.app_context():
        live = db.session.get(Live, live_id)
        fan = accounts.get_by_username("fan")
        for i in range(55):
            chat_service.send_message(live, fan, f"message {i}")
        removed = db.session.scalar(select(ChatMessage).where(ChatMessage.body == "message 54"))
        moderation.delete_message(live, accounts.get_by_username("maker"), removed.id)

    state = room_state(join(app, live_id, "stranger"))

    assert [m["body"] for m in state["messages"]] == [f"message {i}" for i in range(4, 54)]
    ids = [m["id"] for m in state["messages"]]
    assert ids == sorted(ids)


def test_offset_ms_is_the_time_from_the_live_start(app, site, clock):
    live_id = start(app)
    with app.app_context():
        live = db.session.get(Live, live_id)
        live.started_at = clock.now - timedelta(seconds=5)
        db.session.commit()
    fan = join(app, live_id, "fan")

    first = chat(fan, "one")["message"]
    clock.advance(2.5)
    second = chat(fan, "two")["message"]

    assert first["offset_ms"] == 5000
    assert second["offset_ms"] == 7500
    assert [row.offset_ms for row in stored(app, live_id)] == [5000, 7500]


def test_a_visitor_or_a_read_only_token_cannot_chat(app, site):
    live_id = start(app)
    visitor, fan = join(app, live_id), join(app, live_id, "fan")
    drain(fan)
    answer = refused(chat(visitor, "hello"), "login_required")
    assert received(visitor, "room_error") == [answer]

    with app.app_context():
        secret = make_token(accounts.get_by_username("stranger"), scopes=("read",))
    reader = socketio.test_client(
        app,
        namespace="/live",
        flask_test_client=app.test_client(),
        auth={"live_id": live_id, "token": secret},
    )
    assert reader.is_connected("/live")
    refused(chat(reader, "hello"), "login_required")
    assert received(fan, "chat") == [] and stored(app, live_id) == []


def test_a_write_token_chats(app, site):
    live_id = start(app)
    with app.app_context():
        secret = make_token(accounts.get_by_username("stranger"), scopes=("read", "write"))
    program = socketio.test_client(
        app,
        namespace="/live",
        flask_test_client=app.test_client(),
        auth={"live_id": live_id, "token": secret},
    )
    answer = chat(program, "from a bot")
    assert answer["ok"] is True and answer["message"]["user"]["username"] == "stranger"


def test_no_chat_once_the_live_has_ended(app, site):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    with app.app_context():
        lives.end_live(db.session.get(Live, live_id), "host")
    refused(chat(fan, "still there?"), "live_ended")
    assert stored(app, live_id) == []


# -- the text ---------------------------------------------------------------------------------
def test_the_length_limit_counts_characters(app, site):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    assert chat(fan, "é" * 300)["ok"] is True  # 300 characters, 600 bytes
    answer = refused(chat(fan, "x" * 301), "too_long")
    assert "300" in answer["error"]
    assert [len(row.body) for row in stored(app, live_id)] == [300]


def test_the_length_limit_follows_the_site_setting(app, site):
    live_id = start(app)
    with app.app_context():
        settings.set_setting("CHAT_MAX_LENGTH", 10)
    fan = join(app, live_id, "fan")
    refused(chat(fan, "eleven char"), "too_long")
    assert chat(fan, "ten chars!")["ok"] is True


@pytest.mark.parametrize("body", ["", "   ", "\n\t ", "\x00\x07"])
def test_an_empty_message_is_refused(app, site, body):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    refused(chat(fan, body), "empty")
    assert stored(app, live_id) == []


def test_control_characters_and_lone_surrogates_are_taken_out(app, site):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    answer = chat(fan, "one\nline\x00 with\ttabs\x1b[31m \ud800end")
    assert answer["ok"] is True
    assert answer["message"]["body"] == "one line with tabs[31m end"
    assert stored(app, live_id)[0].body == "one line with tabs[31m end"


@pytest.mark.parametrize("payload", INJECTIONS)
def test_markup_is_stored_and_sent_as_the_text_it_is(app, site, payload):
    live_id = start(app)
    fan, stranger = join(app, live_id, "fan"), join(app, live_id, "stranger")
    drain(stranger)

    answer = chat(fan, payload)

    assert answer["ok"] is True and answer["message"]["body"] == payload
    assert [m["body"] for m in received(stranger, "chat")] == [payload]
    assert stored(app, live_id)[0].body == payload
    assert room_state(join(app, live_id))["messages"][0]["body"] == payload


def test_a_deleted_message_shows_as_text_in_the_moderation_log(app, site):
    """The one HTML page that shows chat text: the live's moderation log."""
    live_id = start(app)
    fan, host = join(app, live_id, "fan"), join(app, live_id, "maker")
    message_ids = [chat(fan, body)["message"]["id"] for body in INJECTIONS[:3]]
    for message_id in message_ids:
        assert send(host, "message_delete", {"message_id": message_id})["ok"] is True

    html = login(app, "maker").get(f"/lives/{live_id}/moderation").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=" in html
    assert "<svg/onload" not in html and "&lt;svg/onload=alert(1)&gt;" in html


def test_blocked_words_match_whole_words_whatever_the_case(app, site, clock):
    live_id = start(app)
    with app.app_context():
        host_id = accounts.get_by_username("maker").id
        db.session.add_all([BlockedWord(host_id=host_id, word=w) for w in ("badword", "two words", "$$$")])
        db.session.commit()
    fan = join(app, live_id, "fan")

    for body in (
        "BadWord!",
        "what a BADWORD.",
        "(badword)",
        "bad\u200bword",  # a zero-width space inside does not hide it
        "Two   WORDS here",
        "two-words",
        "free $$$ now",
    ):
        clock.advance(2)  # one message every 2 s keeps clear of the rate limit
        assert refused(chat(fan, body), "blocked_word"), body
    for body in ("badwords", "notbadword", "two", "words two"):
        clock.advance(2)
        assert chat(fan, body)["ok"] is True, body
    assert [row.body for row in stored(app, live_id)] == ["badwords", "notbadword", "two", "words two"]


def test_blocked_words_of_another_host_do_not_apply(app, site):
    live_id = start(app)
    with app.app_context():
        db.session.add(BlockedWord(host_id=accounts.get_by_username("other").id, word="badword"))
        db.session.commit()
    assert chat(join(app, live_id, "fan"), "badword")["ok"] is True


# -- the room's switches --------------------------------------------------------------------------
def test_slow_mode_spaces_messages_out_except_for_staff(app, site, clock):
    live_id = start(app)
    set_room(app, live_id, slow_mode_seconds=30)
    fan, stranger, mod = join(app, live_id, "fan"), join(app, live_id, "stranger"), join(app, live_id, "mod")

    assert chat(fan, "first")["ok"] is True
    clock.advance(10)
    answer = refused(chat(fan, "second"), "slow_mode")
    assert answer["retry_after"] == 20
    assert chat(stranger, "someone else")["ok"] is True  # per person
    assert all(chat(mod, f"staff {i}")["ok"] for i in range(3))

    clock.advance(20)
    assert chat(fan, "second, later")["ok"] is True
    assert [row.body for row in stored(app, live_id, "fan")] == ["first", "second, later"]


def test_followers_only_chat(app, site):
    live_id = start(app)
    set_room(app, live_id, followers_only=True)
    put_on_stage(app, live_id, "onstage")
    stranger = join(app, live_id, "stranger")
    assert room_state(stranger)["you"]["can_chat"] is False
    fan = join(app, live_id, "fan")
    assert room_state(fan)["you"]["can_chat"] is True

    refused(chat(stranger, "let me in"), "followers_only")
    for client in (
        fan,
        join(app, live_id, "mod"),
        join(app, live_id, "maker"),
        join(app, live_id, "onstage"),
    ):
        assert chat(client, "hello")["ok"] is True
    assert user_id(app, "stranger") not in {row.user_id for row in stored(app, live_id)}


def test_comments_off_leaves_only_staff_talking(app, site):
    live_id = start(app)
    set_room(app, live_id, comments_off=True)
    put_on_stage(app, live_id, "onstage")
    fan, guest = join(app, live_id, "fan"), join(app, live_id, "onstage")
    assert room_state(fan)["you"]["can_chat"] is False
    refused(chat(fan, "hello?"), "comments_off")
    refused(chat(guest, "hello?"), "comments_off")
    for name in ("maker", "mod", "siteadmin"):
        client = join(app, live_id, name)
        assert room_state(client)["you"]["can_chat"] is True
        assert chat(client, f"{name} here")["ok"] is True
    assert len(stored(app, live_id)) == 3


def test_room_state_tells_who_can_chat(app, site):
    live_id = start(app)
    visitor = room_state(join(app, live_id))["you"]
    assert visitor["can_chat"] is False and visitor["user_id"] is None and visitor["role"] == "visitor"
    you = room_state(join(app, live_id, "fan"))["you"]
    assert you["can_chat"] is True and you["muted_until"] is None and you["role"] == "viewer"


# -- rate limits and floods --------------------------------------------------------------------------
def test_the_chat_rate_limit_says_how_long_to_wait(app, site, clock):
    live_id = start(app)
    fan, stranger = join(app, live_id, "fan"), join(app, live_id, "stranger")
    drain(fan, stranger)
    for i in range(5):
        assert chat(fan, f"m{i}")["ok"] is True

    answer = refused(chat(fan, "one too many"), "rate_limited")

    assert answer["retry_after"] == 2  # 5 per 10 s: one more every 2 s
    assert received(fan, "room_error") == [answer]
    assert "one too many" not in [m["body"] for m in received(stranger, "chat")]
    assert chat(stranger, "I am fine")["ok"] is True
    clock.advance(2)
    assert chat(fan, "again")["ok"] is True
    assert len(stored(app, live_id, "fan")) == 6


def test_a_flooding_client_does_not_stop_the_others(app, site, clock):
    live_id = start(app)
    flooder, stranger, third = (join(app, live_id, n) for n in ("fan", "stranger", "third"))
    drain(flooder, stranger, third)

    answers = []
    for i in range(200):
        answers.append(chat(flooder, f"spam {i}"))
        if i % 50 == 0:
            assert chat(stranger, f"still here {i}")["ok"] is True

    assert sum(a["ok"] for a in answers) == 5
    assert {a["code"] for a in answers[5:]} == {"rate_limited"}
    assert len(stored(app, live_id, "fan")) == 5
    bodies = [m["body"] for m in received(third, "chat")]
    assert [b for b in bodies if b.startswith("still here")] == [f"still here {i}" for i in (0, 50, 100, 150)]
    assert len([b for b in bodies if b.startswith("spam")]) == 5
    # The flood's refusals went to the flooder only.
    assert received(third, "room_error") == [] and received(stranger, "room_error") == []


@pytest.mark.parametrize(
    "payload", [None, "hello", 5, ["hello"], {}, {"body": 5}, {"body": None}, {"body": ["x"]}]
)
def test_a_malformed_chat_send_is_invalid(app, site, payload):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    refused(send(fan, "chat_send", payload), "invalid")
    assert fan.is_connected("/live")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ChatMessage)) == 0

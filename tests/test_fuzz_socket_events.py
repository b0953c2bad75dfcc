"""Every Socket.IO event fed any payload at all (issue 9, "Bad input").

Hypothesis draws payloads for each event on every namespace: None, scalars, huge
integers, NaN and infinities, long strings and strings of control characters, lone
surrogates and NULs, lists, nested dicts, and above all the event's own keys holding
wrong types and values on each side of the documented limits (docs/realtime.md), with
the real ids of the room mixed in so the valid paths run too. The senders are the
people of a live that is on: a visitor, a viewer (with coins), a moderator and the
host; Flask-SocketIO's test client drives the real handlers on the real database.

For every example: the handler neither raises nor answers something that is not JSON
(NaN included); the acknowledgement is a dict with a boolean ``ok`` (and a refusal
has its ``code`` and ``error``, and is also sent to the sender as ``room_error``); a
refused event wrote nothing; the ledger balances and no row holds an out-of-range
value; and the sender's connection still works (a chat message goes through).

The events come from ``socketio.server.handlers``: an event added without a strategy
here fails ``test_every_event_has_a_fuzz_strategy``.

Runs: ``FUZZ_PROFILE=ci`` (the default, derandomized: the same examples every run,
no example database) or ``FUZZ_PROFILE=bench`` (many more examples, random).
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from dataclasses import dataclass, field

import pytest
from factories import PASSWORD, make_token
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from media_support import H264_MIME, VP8_MIME, clusters, recording
from pages import submit
from room_chat_support import make_site, put_on_stage
from sqlalchemy import func, select

from livelite.extensions import db, socketio
from livelite.models import (
    AccountKind,
    ChatMessage,
    Feed,
    GiftSend,
    GuestStatus,
    HostBan,
    Live,
    LiveGoal,
    LiveGuest,
    LiveSanction,
    LiveStatus,
    ModerationEntry,
    Moderator,
    Question,
    QuestionStatus,
    QuestionVote,
    Report,
    RoomSettings,
    TransactionType,
    User,
)
from livelite.services import accounts, chat, gifts, ledger, lives, questions, reports
from livelite.services import likes as likes_service
from livelite.services.room import RateLimiter
from livelite.services.settings import get_setting

# -- how long it runs ----------------------------------------------------------------------
_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
settings.register_profile("fuzz-ci", max_examples=25, derandomize=True, **_COMMON)
settings.register_profile("fuzz-bench", max_examples=400, derandomize=False, **_COMMON)
FUZZ = settings.get_profile("fuzz-bench" if os.environ.get("FUZZ_PROFILE") == "bench" else "fuzz-ci")

# -- values ----------------------------------------------------------------------------------
DB_MAX = 2**63 - 1
HUGE_INTS = [2**31 - 1, 2**31, 2**53 + 1, DB_MAX, DB_MAX + 1, 2**64, 10**30, -(2**63) - 1, -(10**30)]
ODD_FLOATS = [math.nan, math.inf, -math.inf, 1e300, -0.0, 0.5, 1.0, 1e-300]
NASTY_STRINGS = [
    "",
    " ",
    "\t\r\n",
    "\x00",
    "a\x00b",
    "\ud800",
    "a\udfffb",
    "\u202eevil",
    "\u200b\u200b",
    "\ufeff",
    "\u3000",
    "🦄" * 40,
    "e\u0301" * 200,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{ 7*7 }}",
    "../../../etc/passwd",
    "%s%n%x",
    "null",
    "1",
    "-1",
    "1e400",
    "NaN",
    "Infinity",
    "true",
    "x" * 10_000,
    "ll_\ud800",
]
# Texts around the limits of the room: 64 (usernames), 80 (goal label), 128
# (idempotency key), 300 (chat, questions), 500 (reports); padded with spaces or not.
LIMITS = (64, 80, 128, 300, 500)
# Every character class a client could send, surrogates and controls included.
ANY_CHAR = st.characters(categories=["L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Cs", "Co"])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE_INTS),
    st.floats(),
    st.sampled_from(ODD_FLOATS),
    st.text(max_size=30),
    st.text(ANY_CHAR, max_size=30),
    st.sampled_from(NASTY_STRINGS),
    st.binary(max_size=40),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10,
)


def _around(limit: int) -> st.SearchStrategy[str]:
    return st.builds(
        lambda char, size, pad: pad + char * size + pad,
        st.sampled_from(["x", "é", "🦄", "\u200b", "\x07", " "]),
        st.integers(limit - 2, limit + 2),
        st.sampled_from(["", "  "]),
    )


@dataclass(frozen=True)
class Field:
    """What one key of a payload may hold: ``valid`` values (the room's real ones, within
    the documented limits: the accepted paths run), ``edge`` ones (one past each limit,
    zero, the largest id a database holds and one more, strings of every kind of
    character) and ``wild`` ones (wrong types, huge, NaN, nonsense)."""

    valid: st.SearchStrategy
    edge: st.SearchStrategy
    wild: st.SearchStrategy


def ids(valid=(), other=()) -> Field:
    """An id: ``valid`` ones of the room, ``other`` real ids the event should refuse."""
    wrong = [*(str(i) for i in valid), "1", " 1", "0x1", "1.0", True, False, 1.0, 1.5, math.nan, math.inf]
    edge = st.sampled_from([*other, 0, -1, DB_MAX, DB_MAX + 1])
    wild = st.one_of(st.sampled_from(HUGE_INTS), st.sampled_from(wrong), st.integers(), junk)
    return Field(st.sampled_from(valid) if valid else edge, edge, wild)


def numbers(low: int, high: int, *inside: int) -> Field:
    """A count or an amount documented as ``low``–``high``."""
    valid = st.one_of(st.sampled_from([low, high, *inside]), st.integers(low, high))
    edge = st.sampled_from([low - 1, high + 1, 0, -1, DB_MAX + 1])
    wild = st.one_of(
        st.integers(),
        st.sampled_from(HUGE_INTS + ODD_FLOATS),
        st.sampled_from([str(low), str(high), float(low), float(high), True, False, None, [low]]),
        st.floats(),
        junk,
    )
    return Field(valid, edge, wild)


def texts(*real: str) -> Field:
    """Text: the real values or ordinary words; strings at each limit of the room
    (trimmed or not) and of every kind of character, controls and lone surrogates
    included; then anything."""
    words = st.text(st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=40)
    valid = st.one_of(st.sampled_from(real), words) if real else words
    edge = st.one_of(
        st.sampled_from(LIMITS).flatmap(_around),
        st.sampled_from(NASTY_STRINGS),
        st.text(ANY_CHAR, min_size=1, max_size=60),
    )
    return Field(valid, edge, st.one_of(st.text(max_size=40), scalars, junk))


def choices(*values: str) -> Field:
    odd = [*(v.upper() for v in values), *(f" {v}" for v in values), *(f"{v}\x00" for v in values)]
    return Field(st.sampled_from(values), st.sampled_from(odd), texts().wild)


def flags() -> Field:
    return Field(st.booleans(), st.sampled_from([0, 1, "true", "false", "", None]), junk)


def binary(*real: bytes) -> Field:
    return Field(
        st.one_of(st.sampled_from(real), st.binary(min_size=1, max_size=200)),
        st.sampled_from([b"", b"\x00" * (4 * 1024 * 1024 + 1)]),
        scalars,
    )


def payloads(fields: dict[str, Field]) -> st.SearchStrategy:
    """Anything at all; or the event's own keys: all valid, all valid but one (at an
    edge, or wild), each present or not holding anything, or valid with unknown keys
    beside them."""
    extra = st.dictionaries(st.text(max_size=12), scalars, min_size=1, max_size=2)
    if not fields:
        return st.one_of(st.just({}), st.none(), junk, extra)
    valid = st.fixed_dictionaries({key: f.valid for key, f in fields.items()})

    def one(kind: str) -> st.SearchStrategy:
        return st.tuples(valid, st.sampled_from(sorted(fields))).flatmap(
            lambda pair: getattr(fields[pair[1]], kind).map(lambda value: {**pair[0], pair[1]: value})
        )

    anything = st.fixed_dictionaries(
        {}, optional={key: st.one_of(f.valid, f.edge, f.wild) for key, f in fields.items()}
    )
    return st.one_of(
        valid,
        valid,
        one("edge"),
        one("edge"),
        one("wild"),
        anything,
        junk,
        st.builds(lambda a, b: {**b, **a}, valid, extra),
    )


# -- what each event takes ---------------------------------------------------------------------
@dataclass
class Ids:
    """The real values of the room under test, for the strategies to mix in."""

    live_id: int = 0
    other_live_id: int = 0
    users: dict[str, int] = field(default_factory=dict)
    messages: list[int] = field(default_factory=list)
    questions: list[int] = field(default_factory=list)
    gifts: list[int] = field(default_factory=list)
    feed_id: int = 0
    invite: str = ""
    token: str = ""

    @property
    def people(self) -> list[int]:
        return list(self.users.values())


def _viewers(r: Ids) -> list[int]:
    """People a moderator may act on: not the host or staff."""
    return [r.users[name] for name in ("stranger", "third", "onstage", "fan")]


LIVE_FIELDS = {
    "chat_send": lambda r: {"body": texts("hello", "hi <b>there</b>")},
    "like": lambda r: {"count": numbers(1, 50, 20, 21)},
    "question_ask": lambda r: {"body": texts("Why?", "How long?"), "anonymous": flags()},
    "question_vote": lambda r: {"question_id": ids(r.questions)},
    "question_answer": lambda r: {"question_id": ids(r.questions)},
    "question_dismiss": lambda r: {"question_id": ids(r.questions)},
    "question_unpin": lambda r: {},
    "message_delete": lambda r: {"message_id": ids(r.messages)},
    "user_mute": lambda r: {"user_id": ids(_viewers(r), r.people), "duration": choices("1m", "10m", "live")},
    "user_unmute": lambda r: {"user_id": ids(_viewers(r), r.people)},
    "user_kick": lambda r: {"user_id": ids(_viewers(r), r.people)},
    "user_ban": lambda r: {"user_id": ids(_viewers(r), r.people)},
    "room_settings": lambda r: {
        "slow_mode_seconds": numbers(0, 3600),
        "followers_only": flags(),
        "comments_off": flags(),
        "anonymous_questions": flags(),
    },
    "moderator_set": lambda r: {"user_id": ids(_viewers(r), r.people), "moderator": flags()},
    "report": lambda r: {
        "message_id": ids(r.messages),
        "user_id": ids(_viewers(r), r.people),
        "reason": texts("spam", "rude"),
    },
    "guest_request": lambda r: {},
    "guest_cancel": lambda r: {},
    "guest_invite": lambda r: {
        "user_id": ids(_viewers(r), r.people),
        "username": texts("third", "@fan", "nobody"),
    },
    "guest_accept": lambda r: {"user_id": ids(_viewers(r), r.people)},
    "guest_remove": lambda r: {"user_id": ids(_viewers(r), r.people)},
    "gift_send": lambda r: {
        "receiver_id": ids([r.users["maker"], r.users["onstage"]], r.people),
        "gift_id": ids(r.gifts),
        "quantity": numbers(1, 99),
        "idempotency_key": texts("key-0", "key-1", "key-2"),
    },
    "gift_state": lambda r: {},
    "goal_set": lambda r: {"target_coins": numbers(1, 10_000_000), "label": texts("New camera")},
    "goal_clear": lambda r: {},
}
PUBLISH_FIELDS = {
    "publish_start": lambda r: {
        "live_id": ids([r.live_id], [r.other_live_id]),
        "mime": Field(
            st.sampled_from([H264_MIME, VP8_MIME, "video/webm;codecs=vp9"]),
            st.sampled_from(["video/mp4", "video/webm;codecs=h264\x00", "video/webm;codecs=" + "a" * 5000]),
            texts().wild,
        ),
        "recorder_id": texts("r1", "r2"),
    },
    "publish_chunk": lambda r: {
        "feed_id": ids([r.feed_id]),
        "seq": numbers(0, 3),
        "data": binary(_first_chunk(), b"\x1a\x45\xdf\xa3" + b"\x00" * 64),
    },
}
CONNECT_FIELDS = {
    "/live": lambda r: {
        "live_id": ids([r.live_id], [r.other_live_id]),
        "invite": texts(r.invite),
        "token": texts(r.token),
    },
    "/me": lambda r: {},
    "/publish": lambda r: {},
}
# Events that take no payload from a client: run after each connection the fuzz opens.
NO_PAYLOAD = {"disconnect"}


def _first_chunk() -> bytes:
    return clusters(recording("h264", seconds=2))[0]


def test_every_event_has_a_fuzz_strategy(app):
    """A handler added on any namespace without a strategy here fails this test, and a
    strategy left for an event that is gone fails it too."""
    registered = {
        (namespace, event)
        for namespace, handlers in socketio.server.handlers.items()
        for event in handlers
        if event not in NO_PAYLOAD
    }
    assert not socketio.server.namespace_handlers  # class-based namespaces would hide events
    known = (
        {("/live", e) for e in LIVE_FIELDS}
        | {("/publish", e) for e in PUBLISH_FIELDS}
        | {(ns, "connect") for ns in CONNECT_FIELDS}
    )
    assert registered - known == set(), "events without a fuzz strategy"
    assert known - registered == set(), "strategies for events that no longer exist"


# -- the room under test -----------------------------------------------------------------------
SENDERS = ("visitor", "stranger", "mod", "maker")
ERROR_CODES = {
    "login_required",
    "not_allowed",
    "not_found",
    "invalid",
    "too_long",
    "empty",
    "rate_limited",
    "slow_mode",
    "muted",
    "comments_off",
    "followers_only",
    "blocked_word",
    "already_voted",
    "live_ended",
    "conflict",
    "not_joined",
    "insufficient_funds",
    "gifts_off",
}


def _login(app, username: str):
    browser = app.test_client()
    assert submit(browser, "/login", {"login": username, "password": PASSWORD}).status_code == 302
    return browser


def _json_safe(value) -> None:
    """What a browser's JSON.parse would take: no NaN or infinities, no lone surrogates."""
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")


def _tell(text: str) -> None:
    """Say which case fails (the fixed regressions run outside Hypothesis)."""
    if currently_in_test_context():
        note(text)


def _regressions(check, cases) -> None:
    for case in cases:
        try:
            check(case)
        except Exception as exc:
            raise AssertionError(f"a fixed crash is back: {_short(case)}") from exc


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 400 else f"{text[:400]}… ({len(text)} characters)"


def _storable(text: str) -> bool:
    """Text a page can show and any database can store: no control characters or
    surrogates."""
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def _snapshot() -> dict[str, list]:
    """Every row of every table, to prove a refused event changed nothing."""
    db.session.expire_all()
    return {
        table.name: sorted(map(repr, db.session.execute(select(table)).all()))
        for table in db.metadata.sorted_tables
    }


def _diff(before: dict, after: dict) -> dict:
    return {
        name: sorted(set(after[name]) ^ set(before[name])) for name in before if before[name] != after[name]
    }


class Room:
    """A live that is on, its people connected, and the baseline each example starts from."""

    def __init__(self, app):
        self.app = app
        with app.app_context():
            make_site()
            self.ids = Ids(users={u.username: u.id for u in db.session.scalars(select(User))})
            maker = accounts.get_by_username("maker")
            live = lives.start_live(maker, title="Fuzzed", visibility="public")
            # The other live is by invitation: connecting to it compares invites.
            other = lives.start_live(accounts.get_by_username("other"), title="Other", visibility="invite")
            self.ids.live_id, self.ids.other_live_id = live.id, other.id
            self.ids.invite = other.invite_token
            self.ids.token = make_token(accounts.get_by_username("stranger"), scopes=("read", "write"))
            self.ids.gifts = [g.id for g in gifts.catalogue()]
            third = accounts.get_by_username("third")
            self.ids.messages = [chat.send_message(live, third, "a message to act on")["id"]]
            self.ids.questions = [questions.ask(live, third, "A question to act on?").id]
            self._grant("stranger", 1_000_000)
        put_on_stage(app, self.ids.live_id, "onstage")
        # Hearts are counted when the test says so (flush), not by a background task.
        self.hearts = likes_service.install(app, likes_service.LikeAggregator(app, spawn=lambda *a: None))
        self.likes_accepted = 0
        self.browsers = {name: _login(app, name) for name in SENDERS if name != "visitor"}
        self.browsers["visitor"] = app.test_client()
        self.clients = {name: self._connect(name) for name in SENDERS}
        self.alive_count = 0

    def _grant(self, username: str, coins: int) -> None:
        user = accounts.get_by_username(username)
        ledger.post(
            TransactionType.GRANT,
            [
                ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -coins),
                ledger.Leg(ledger.account_id(AccountKind.COINS, user), coins),
            ],
            key=f"fuzz-grant:{username}",
            reference="test",
        )
        db.session.commit()

    def _connect(self, name: str):
        client = socketio.test_client(
            self.app,
            namespace="/live",
            flask_test_client=self.browsers[name],
            auth={"live_id": self.ids.live_id},
        )
        assert client.is_connected("/live"), name
        client.get_received("/live")
        return client

    def reset(self) -> None:
        """Back to the baseline: fresh rate limits, default settings, nobody sanctioned,
        the moderator and the guest in place, everyone connected."""
        self.app.extensions["livelite.room_limits"] = RateLimiter()
        with self.app.app_context():
            live_id, host_id = self.ids.live_id, self.ids.users["maker"]
            row = db.session.get(RoomSettings, live_id)
            row.slow_mode_seconds, row.followers_only, row.comments_off = 0, False, False
            row.anonymous_questions, row.pinned_question_id = False, None
            db.session.execute(LiveSanction.__table__.delete())
            db.session.execute(HostBan.__table__.delete())
            db.session.execute(Moderator.__table__.delete())
            db.session.add(Moderator(host_id=host_id, user_id=self.ids.users["mod"]))
            db.session.execute(LiveGuest.__table__.delete())
            # What is allowed once a minute or an hour (questions, reports) starts again.
            db.session.execute(QuestionVote.__table__.delete())
            db.session.execute(Question.__table__.delete().where(Question.id.not_in(self.ids.questions)))
            db.session.execute(
                Question.__table__.update().values(
                    status=QuestionStatus.OPEN.value, votes=0, answered_at=None
                )
            )
            db.session.execute(Report.__table__.delete())
            db.session.execute(ChatMessage.__table__.update().values(removed_at=None, removed_reason=None))
            db.session.add(
                LiveGuest(live_id=live_id, user_id=self.ids.users["onstage"], status=GuestStatus.ACTIVE)
            )
            db.session.commit()
        for name, client in self.clients.items():
            if not client.is_connected("/live"):
                self.clients[name] = self._connect(name)
            else:
                client.get_received("/live")

    def send(self, sender: str, event: str, payload):
        client = self.clients[sender]
        if payload is None:
            return client.emit(event, namespace="/live", callback=True)
        return client.emit(event, payload, namespace="/live", callback=True)

    def received(self, sender: str, event: str) -> list:
        client = self.clients[sender]
        if not client.is_connected("/live"):
            return [m["args"][0] for m in client.queue if m["namespace"] == "/live" and m["name"] == event]
        return [m["args"][0] for m in client.get_received("/live") if m["name"] == event]

    def check_alive(self, sender: str) -> None:
        """The connection still works: a chat message goes through and comes back (a
        visitor, who may not chat, reads the gift picker's state instead)."""
        self.app.extensions["livelite.room_limits"] = RateLimiter()
        assert self.clients[sender].is_connected("/live"), f"{sender} was disconnected"
        if sender == "visitor":
            assert self.send(sender, "gift_state", {})["ok"] is True
            return
        self.alive_count += 1
        body = f"still here {self.alive_count}"
        ack = self.send(sender, "chat_send", {"body": body})
        assert ack["ok"] is True, ack
        assert body in [m["body"] for m in self.received(sender, "chat")]

    def check_invariants(self) -> None:
        """No row out of range, whatever was accepted."""
        with self.app.app_context():
            self.hearts.flush()
            db.session.expire_all()
            assert ledger.check() == []
            live = db.session.get(Live, self.ids.live_id)
            assert live.status == LiveStatus.LIVE
            limit = int(get_setting("CHAT_MAX_LENGTH"))
            for message in db.session.scalars(select(ChatMessage)):
                assert 0 < len(message.body) <= limit and message.body == message.body.strip()
                assert _storable(message.body), repr(message.body)
            for question in db.session.scalars(select(Question)):
                assert 0 < len(question.body) <= questions.QUESTION_MAX_LENGTH, repr(question.body)
                assert question.body.strip() and _storable(question.body), repr(question.body)
                voters = db.session.scalar(
                    select(func.count())
                    .select_from(QuestionVote)
                    .where(QuestionVote.question_id == question.id)
                )
                assert question.votes == voters >= 0
            for row in db.session.scalars(select(RoomSettings)):
                assert 0 <= row.slow_mode_seconds <= 3600
            assert db.session.get(RoomSettings, self.ids.live_id).likes == self.likes_accepted
            for goal in db.session.scalars(select(LiveGoal)):
                assert gifts.GOAL_MIN <= goal.target_coins <= gifts.GOAL_MAX
                assert len(goal.label) <= gifts.GOAL_LABEL_MAX and _storable(goal.label)
            for send in db.session.scalars(select(GiftSend)):
                assert 1 <= send.quantity <= gifts.MAX_QUANTITY and send.coins > 0 and send.diamonds >= 0
            for report in db.session.scalars(select(Report)):
                assert 0 < len(report.reason) <= reports.REASON_MAX and report.reason.strip()
                assert _storable(report.reason.replace("\n", " ").replace("\t", " ")), repr(report.reason)
            for entry in db.session.scalars(select(ModerationEntry)):
                assert len(entry.detail) <= 500
            on_stage = db.session.scalar(
                select(func.count())
                .select_from(LiveGuest)
                .where(LiveGuest.live_id == self.ids.live_id, LiveGuest.status == GuestStatus.ACTIVE)
            )
            assert on_stage <= int(get_setting("MAX_GUESTS"))
            assert ledger.balance(self.ids.users["stranger"]) >= 0

    def close(self) -> None:
        for client in self.clients.values():
            if client.is_connected("/live"):
                client.disconnect("/live")
        self.app.extensions["livelite.media"].shutdown()


def _check_ack(ack) -> None:
    """The documented acknowledgement: ``{ok: true, …}`` or ``{ok: false, code, error,
    retry_after?}``, all of it JSON."""
    assert isinstance(ack, dict), ack
    assert isinstance(ack.get("ok"), bool), ack
    _json_safe(ack)
    if not ack["ok"]:
        assert ack["code"] in ERROR_CODES, ack
        assert isinstance(ack["error"], str) and ack["error"].strip(), ack
        if "retry_after" in ack:
            assert isinstance(ack["retry_after"], int) and ack["retry_after"] >= 1, ack


# Inputs that crashed a handler before it was fixed, found by this fuzz: they run first,
# every time, whatever the examples drawn (sender, payload).
BIG = DB_MAX + 1
LIVE_REGRESSIONS = {
    "gift_send": [
        ("stranger", {"receiver_id": 2, "gift_id": 1, "idempotency_key": True}),
        ("stranger", {"receiver_id": BIG, "gift_id": 1, "idempotency_key": "k"}),
        ("stranger", {"receiver_id": 2, "gift_id": BIG, "idempotency_key": "k"}),
    ],
    "guest_accept": [("stranger", {"user_id": BIG})],
    "guest_invite": [("maker", {"user_id": BIG}), ("maker", {"username": "a\ud800b"})],
    "guest_remove": [("maker", {"user_id": BIG})],
    "message_delete": [("mod", {"message_id": BIG})],
    "moderator_set": [("stranger", {"user_id": BIG, "moderator": False})],
    "question_answer": [("mod", {"question_id": BIG})],
    "question_ask": [("stranger", {"body": "a\ud800b"}), ("stranger", {"body": "\x00"})],
    "question_dismiss": [("mod", {"question_id": BIG})],
    "question_vote": [("stranger", {"question_id": BIG})],
    "report": [
        ("stranger", {"user_id": BIG, "reason": "spam"}),
        ("stranger", {"message_id": BIG, "reason": "spam"}),
        ("stranger", {"user_id": 5, "reason": "a\ud800b"}),
    ],
    "user_ban": [("mod", {"user_id": BIG})],
    "user_kick": [("mod", {"user_id": BIG})],
    "user_mute": [("mod", {"user_id": BIG, "duration": "1m"})],
    "user_unmute": [("mod", {"user_id": BIG})],
}


@pytest.mark.parametrize("name", sorted(LIVE_FIELDS))
def test_a_live_room_event_survives_any_payload(make_app, name):
    app = make_app()
    room = Room(app)

    def check(case):
        sender, payload = case
        _tell(f"{sender} sends {name} {_short(payload)}")
        room.reset()
        with app.app_context():
            before = _snapshot()
        ack = room.send(sender, name, payload)
        _check_ack(ack)
        _tell(f"answer {_short(ack)}")
        if ack["ok"]:
            if name == "like":
                room.likes_accepted += ack["count"]
        else:
            assert room.received(sender, "room_error") == [ack]
            with app.app_context():
                assert _diff(before, _snapshot()) == {}, ack
        room.check_invariants()
        room.check_alive(sender)

    payload = st.one_of(st.none(), payloads(LIVE_FIELDS[name](room.ids)))
    try:
        _regressions(check, LIVE_REGRESSIONS.get(name, []))
        FUZZ(given(case=st.tuples(st.sampled_from(SENDERS), payload))(check))()
    finally:
        room.close()


# -- /publish ------------------------------------------------------------------------------------
class Studio:
    """A live that is on, with the host's browser publisher started for real, and a
    viewer and a guest on stage connected to /publish as well."""

    SENDERS = ("maker", "onstage", "stranger")

    def __init__(self, app):
        self.app = app
        with app.app_context():
            make_site()
            self.ids = Ids(users={u.username: u.id for u in db.session.scalars(select(User))})
            self.ids.other_live_id = lives.start_live(accounts.get_by_username("other"), title="Other").id
        self.browsers = {name: _login(app, name) for name in self.SENDERS}
        self.new_live()

    def new_live(self) -> None:
        """A fresh live (after one ended for a reason the fuzz gave it: garbage bytes
        that ffmpeg cannot read end the host's live, as they should)."""
        with self.app.app_context():
            self.ids.live_id = lives.start_live(accounts.get_by_username("maker"), title="Studio").id
        put_on_stage(self.app, self.ids.live_id, "onstage")
        self.clients = {
            name: socketio.test_client(self.app, namespace="/publish", flask_test_client=browser)
            for name, browser in self.browsers.items()
        }
        start = {"live_id": self.ids.live_id, "mime": H264_MIME, "recorder_id": "r1"}
        ack = self.clients["maker"].emit("publish_start", start, namespace="/publish", callback=True)
        assert ack["ok"] is True, ack
        self.ids.feed_id = ack["feed_id"]

    def live_is_on(self) -> bool:
        with self.app.app_context():
            return db.session.get(Live, self.ids.live_id).status == LiveStatus.LIVE

    def disconnect(self) -> None:
        for client in self.clients.values():
            if client.is_connected("/publish"):
                client.disconnect("/publish")

    def close(self) -> None:
        self.disconnect()
        self.app.extensions["livelite.media"].shutdown()


END_REASONS = {"host", "admin", "publisher_lost", "disk_full", "ingest_failed", "bitrate", "recovered"}


def _check_publish_ack(ack) -> None:
    """``{ok: true, …}`` or ``{ok: false, error, fatal?, code?, last_seq?}``."""
    assert isinstance(ack, dict), ack
    assert isinstance(ack.get("ok"), bool), ack
    _json_safe(ack)
    if not ack["ok"]:
        assert isinstance(ack["error"], str) and ack["error"].strip(), ack
        assert isinstance(ack.get("fatal", False), bool), ack
        if "last_seq" in ack:
            assert isinstance(ack["last_seq"], int) and ack["last_seq"] >= 0, ack


PUBLISH_REGRESSIONS = {
    "publish_start": [
        ("maker", None),
        ("maker", {"live_id": BIG, "mime": H264_MIME, "recorder_id": "r1"}),
        ("maker", {"live_id": math.inf, "mime": H264_MIME, "recorder_id": "r1"}),
    ],
    "publish_chunk": [("maker", None)],
}


@pytest.mark.parametrize("name", sorted(PUBLISH_FIELDS))
def test_a_publisher_event_survives_any_payload(make_app, name):
    app = make_app()
    studio = Studio(app)

    def check(case):
        sender, payload = case
        _tell(f"{sender} sends {name} {_short(payload)}")
        if not studio.live_is_on():
            studio.disconnect()
            studio.new_live()
        client = studio.clients[sender]
        with app.app_context():
            before = _snapshot()
        if payload is None:
            ack = client.emit(name, namespace="/publish", callback=True)
        else:
            ack = client.emit(name, payload, namespace="/publish", callback=True)
        _check_publish_ack(ack)
        _tell(f"answer {_short(ack)}")
        if name == "publish_start" and sender == "maker" and ack["ok"]:
            studio.ids.feed_id = ack["feed_id"]  # the feed this connection now publishes
        with app.app_context():
            after = _snapshot()
            feeds = db.session.scalars(select(Feed).where(Feed.active)).all()
        if not ack["ok"] and not ack.get("fatal"):
            assert _diff(before, after) == {}, ack
        if not studio.live_is_on():
            # Only the host's own bytes may end their live, and it says why.
            assert sender == "maker", ack
            with app.app_context():
                assert db.session.get(Live, studio.ids.live_id).end_reason in END_REASONS
        # One active feed per person and live, only the host's and the guest's.
        owners = [(f.live_id, f.user_id) for f in feeds]
        assert len(owners) == len(set(owners))
        assert {uid for _live, uid in owners} <= {studio.ids.users["maker"], studio.ids.users["onstage"]}
        # The connection still answers: a resend of chunk 0 of the host's feed is
        # acknowledged for the host (while the live is on), refused cleanly for others.
        assert client.is_connected("/publish")
        ping = client.emit(
            "publish_chunk",
            {"feed_id": studio.ids.feed_id, "seq": 0, "data": b"x"},
            namespace="/publish",
            callback=True,
        )
        _check_publish_ack(ping)
        if sender == "maker" and studio.live_is_on():
            assert ping["ok"] is True, ping

    payload = st.one_of(st.none(), payloads(PUBLISH_FIELDS[name](studio.ids)))
    try:
        _regressions(check, PUBLISH_REGRESSIONS.get(name, []))
        FUZZ(given(case=st.tuples(st.sampled_from(Studio.SENDERS), payload))(check))()
    finally:
        studio.close()


def _fits_connect(auth, top: bool = True) -> bool:
    if isinstance(auth, bytes):
        return False
    if isinstance(auth, int | float) and not isinstance(auth, bool):
        return not top
    values = auth.values() if isinstance(auth, dict) else auth if isinstance(auth, list) else []
    return all(_fits_connect(v, top=False) for v in values)


CONNECT_REGRESSIONS = {
    "/live": lambda r: [
        ("visitor", {"live_id": BIG}),
        ("visitor", {"live_id": math.inf}),
        ("visitor", {"live_id": r.other_live_id, "invite": "é"}),  # the invite-only live
        ("visitor", {"live_id": r.other_live_id, "invite": 5}),
    ],
}


# -- connecting ------------------------------------------------------------------------------
@pytest.mark.parametrize("namespace", sorted(CONNECT_FIELDS))
def test_connecting_with_any_auth_leaves_nothing_behind(make_app, namespace):
    """``connect`` with any ``auth``, as a visitor or a viewer: it is accepted or
    refused, never an exception; then ``disconnect``, after which no presence, member
    or viewer count of that connection is left."""
    app = make_app()
    room = Room(app)
    # What a CONNECT packet can carry: no binary, and no bare number (the packet's
    # encoding would read its digits as an ack id: a quirk of the client, not the server).
    auths = payloads(CONNECT_FIELDS[namespace](room.ids)).filter(_fits_connect)
    strategy = st.tuples(st.sampled_from(["visitor", "stranger"]), st.one_of(st.none(), auths))
    presence = app.extensions["livelite.presence"]
    baseline = presence.count(room.ids.live_id)
    members = len(app.extensions.get("livelite.room_members", {}))

    def check(case):
        sender, auth = case
        _tell(f"{sender} connects to {namespace} with {_short(auth)}")
        client = socketio.test_client(
            app, namespace=namespace, flask_test_client=room.browsers[sender], auth=auth
        )
        connected = client.is_connected(namespace)
        if connected:
            got = client.get_received(namespace)
            client.disconnect(namespace)
            _json_safe([m["args"] for m in got])
            # What each namespace sends a new connection at once.
            told = {"/live": "room_state", "/me": "notifications"}.get(namespace)
            assert told is None or told in [m["name"] for m in got]
        if namespace != "/live":
            # Only logged-in people may open /me and /publish, whatever the auth says.
            assert connected == (sender != "visitor")
        assert presence.count(room.ids.live_id) == baseline
        assert len(app.extensions.get("livelite.room_members", {})) == members
        room.check_invariants()

    try:
        _regressions(check, CONNECT_REGRESSIONS.get(namespace, lambda r: [])(room.ids))
        FUZZ(given(case=strategy)(check))()
    finally:
        room.close()

"""Live Q&A over Socket.IO (docs/realtime.md, /live): ask, vote, answer (pin), dismiss,
unpin, and the CSV export over HTTP.

Flask-SocketIO's test client drives the real handlers on a real SQLite database; the
Flask test client passed to it carries the logged-in session.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from factories import PASSWORD, make_admin, make_user
from pages import submit
from sqlalchemy import func, select

from livelite.extensions import db, socketio
from livelite.models import (
    GuestStatus,
    LiveGuest,
    LiveSanction,
    Moderator,
    Question,
    QuestionStatus,
    QuestionVote,
    Role,
    RoomSettings,
    SanctionKind,
)
from livelite.models.base import utcnow
from livelite.services import accounts, lives
from livelite.services import questions as questions_service
from livelite.services.room import RateLimiter, RoomError


@pytest.fixture
def site(app):
    """A host (maker) with a moderator (mod), viewers (fan, stranger, third), a guest on
    stage, and a creator with a live of their own (other)."""
    with app.app_context():
        make_admin()
        maker = make_user("maker", role=Role.CREATOR)
        make_user("other", role=Role.CREATOR)
        for name in ("fan", "stranger", "third", "onstage"):
            make_user(name)
        mod = make_user("mod")
        db.session.add(Moderator(host_id=maker.id, user_id=mod.id))
        db.session.commit()
    yield
    app.extensions["livelite.media"].shutdown()


def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def start(app, host="maker") -> int:
    with app.app_context():
        return lives.start_live(accounts.get_by_username(host), title="Live").id


def join(app, live_id: int, username: str | None = None):
    """A connection to the live's room, logged in as ``username`` (None: a visitor)."""
    browser = login(app, username) if username else app.test_client()
    client = socketio.test_client(
        app, namespace="/live", flask_test_client=browser, auth={"live_id": live_id}
    )
    assert client.is_connected("/live")
    return client


def received(client, event: str) -> list[dict]:
    return [m["args"][0] for m in client.get_received("/live") if m["name"] == event]


def room_state(client) -> dict:
    (state,) = received(client, "room_state")
    return state


def send(client, event: str, payload=None) -> dict:
    if payload is None:
        return client.emit(event, namespace="/live", callback=True)
    return client.emit(event, payload, namespace="/live", callback=True)


def ask(client, body: str, **extra) -> dict:
    return send(client, "question_ask", {"body": body, **extra})


def user_id(app, username: str) -> int:
    with app.app_context():
        return accounts.get_by_username(username).id


def question_row(app, question_id: int) -> Question:
    with app.app_context():
        row = db.session.get(Question, question_id)
        db.session.expunge(row)
        return row


def pinned_id(app, live_id: int) -> int | None:
    with app.app_context():
        row = db.session.get(RoomSettings, live_id)
        return row.pinned_question_id if row else None


def set_anonymous(app, live_id: int, allowed: bool) -> None:
    with app.app_context():
        row = db.session.get(RoomSettings, live_id) or RoomSettings(live_id=live_id)
        row.anonymous_questions = allowed
        db.session.add(row)
        db.session.commit()


class Clock:
    """Time moved by hand, for the questions service and the room's rate limiter."""

    def __init__(self):
        self.now = utcnow()
        self.seconds = 0.0

    def __call__(self):
        return self.now

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.seconds += seconds


@pytest.fixture
def clock(app, monkeypatch):
    fake = Clock()
    monkeypatch.setattr(questions_service, "utcnow", fake)
    app.extensions["livelite.room_limits"] = RateLimiter(clock=fake.monotonic)
    return fake


def asked(app, live_id: int, *pairs) -> list[int]:
    """Questions asked by (username, body) pairs, each by a fresh connection; their ids."""
    ids = []
    for username, body in pairs:
        answer = ask(join(app, live_id, username), body)
        assert answer["ok"] is True, answer
        ids.append(answer["question"]["id"])
    return ids


# -- asking --------------------------------------------------------------------------
def test_a_question_reaches_everyone_in_the_room(app, site):
    live_id = start(app)
    fan, stranger, visitor = join(app, live_id, "fan"), join(app, live_id, "stranger"), join(app, live_id)
    for client in (fan, stranger, visitor):
        client.get_received("/live")

    answer = ask(fan, "  How do you light the set?  ")

    assert answer["ok"] is True
    question = answer["question"]
    assert question["body"] == "How do you light the set?"  # stripped
    assert question["author"]["username"] == "fan"
    assert question["status"] == "open" and question["votes"] == 0
    assert question["answered_offset_ms"] is None and question["offset_ms"] >= 0
    for client in (fan, stranger, visitor):
        assert received(client, "question") == [question]
    row = question_row(app, question["id"])
    assert row.live_id == live_id and row.user_id == user_id(app, "fan")


def test_a_visitor_cannot_ask(app, site):
    live_id = start(app)
    visitor, fan = join(app, live_id), join(app, live_id, "fan")
    fan.get_received("/live")
    answer = ask(visitor, "Hello?")
    assert answer["ok"] is False and answer["code"] == "login_required"
    assert received(visitor, "room_error") == [answer]
    assert received(fan, "question") == []


def test_one_question_per_interval_then_again(app, site, clock):
    live_id = start(app)
    fan, stranger = join(app, live_id, "fan"), join(app, live_id, "stranger")
    first = ask(fan, "First?")
    assert first["ok"] is True
    assert first["next_question_at"] == (clock.now + timedelta(seconds=60)).isoformat()
    stranger.get_received("/live")

    clock.advance(20)
    refused = ask(fan, "Second?")
    assert refused["ok"] is False and refused["code"] == "rate_limited"
    assert refused["retry_after"] == 40
    assert "40" in refused["error"]
    assert received(stranger, "question") == []
    # Another tab of the same person is told the same: the rule reads the database.
    other_tab = join(app, live_id, "fan")
    assert room_state(other_tab)["you"]["next_question_at"] == first["next_question_at"]
    assert ask(other_tab, "From my other tab?")["code"] == "rate_limited"
    # Someone else is not held back by it.
    assert ask(stranger, "Mine?")["ok"] is True

    clock.advance(41)
    again = ask(fan, "Second, now?")
    assert again["ok"] is True
    assert [q["body"] for q in received(stranger, "question")] == ["Mine?", "Second, now?"]
    with app.app_context():
        mine = select(func.count()).select_from(Question).where(Question.user_id == user_id(app, "fan"))
        assert db.session.scalar(mine) == 2


def test_two_questions_racing_count_once(app, site, monkeypatch):
    """Two tabs asking at the same moment both pass the first check; the second look,
    made while holding the database's write lock, refuses the later one."""
    live_id = start(app)
    with app.app_context():
        fan, live = accounts.get_by_username("fan"), lives.get_live(live_id)
        questions_service.ask(live, fan, "From tab one")
        # As if tab one's question had not been committed yet when tab two looked.
        monkeypatch.setattr(questions_service, "next_question_at", lambda *args, **kwargs: None)
        with pytest.raises(RoomError) as refused:
            questions_service.ask(live, fan, "From tab two")
        assert refused.value.code == "rate_limited" and refused.value.retry_after >= 59
        assert [q.body for q in db.session.scalars(select(Question))] == ["From tab one"]


def test_the_interval_counts_per_live(app, site, clock):
    first, second = start(app), start(app, host="other")
    assert ask(join(app, first, "fan"), "Here?")["ok"] is True
    assert ask(join(app, second, "fan"), "And there?")["ok"] is True


def test_the_interval_is_a_site_setting(make_app):
    app = make_app(QUESTION_INTERVAL_SECONDS=0)
    with app.app_context():
        make_admin()
        make_user("maker", role=Role.CREATOR)
        make_user("fan")
    live_id = start(app)
    fan = join(app, live_id, "fan")
    assert ask(fan, "One")["ok"] is True
    assert ask(fan, "Two")["ok"] is True
    assert ask(fan, "Three")["ok"] is True
    # The socket's flood guard still stops a burst before any database work.
    flood = ask(fan, "Four")
    assert flood["ok"] is False and flood["code"] == "rate_limited" and flood["retry_after"] >= 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 3
    app.extensions["livelite.media"].shutdown()


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "empty"), ("   \n\t ", "empty"), ("x" * 301, "too_long"), (" " + "y" * 301 + " ", "too_long")],
)
def test_empty_or_too_long_questions_are_refused(app, site, body, code):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    answer = ask(fan, body)
    assert answer["ok"] is False and answer["code"] == code
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 0


def test_three_hundred_characters_fit(app, site):
    live_id = start(app)
    answer = ask(join(app, live_id, "fan"), " " + "q" * 300 + " ")
    assert answer["ok"] is True and answer["question"]["body"] == "q" * 300


def test_a_muted_person_cannot_ask(app, site):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    with app.app_context():
        db.session.add(
            LiveSanction(
                live_id=live_id,
                user_id=user_id(app, "fan"),
                kind=SanctionKind.MUTE,
                until=utcnow() + timedelta(minutes=10),
            )
        )
        db.session.commit()
    answer = ask(fan, "Can I still ask?")
    assert answer["ok"] is False and answer["code"] == "muted"
    assert 590 <= answer["retry_after"] <= 600
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 0


def test_no_questions_once_the_live_has_ended(app, site):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    with app.app_context():
        lives.end_live(lives.get_live(live_id), "host")
    answer = ask(fan, "Still there?")
    assert answer["ok"] is False and answer["code"] == "live_ended"


# -- anonymous questions --------------------------------------------------------------
def test_anonymous_questions_only_where_the_live_allows_them(app, site):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    refused = ask(fan, "Who am I?", anonymous=True)
    assert refused["ok"] is False and refused["code"] == "invalid"
    assert refused["error"] == "This live does not take anonymous questions."
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 0


def test_an_anonymous_question_names_nobody_even_to_staff(app, site):
    live_id = start(app)
    set_anonymous(app, live_id, True)
    fan, host, stranger = (
        join(app, live_id, "fan"),
        join(app, live_id, "maker"),
        join(app, live_id, "stranger"),
    )
    for client in (host, stranger):
        client.get_received("/live")

    answer = ask(fan, "Who am I?", anonymous=True)
    assert answer["ok"] is True and answer["question"]["author"] is None
    qid = answer["question"]["id"]
    assert [q["author"] for q in received(stranger, "question")] == [None]
    assert [q["author"] for q in received(host, "question")] == [None]
    assert send(host, "question_answer", {"question_id": qid})["question"]["author"] is None
    assert [p["question"]["author"] for p in received(stranger, "pinned")] == [None]
    for username in ("maker", "stranger", "fan"):
        state = room_state(join(app, live_id, username))
        assert [q["author"] for q in state["questions"]] == [None]
        assert state["pinned"]["author"] is None
    # Kept for moderation, never sent.
    assert question_row(app, qid).user_id == user_id(app, "fan")


# -- voting --------------------------------------------------------------------------
def test_a_person_upvotes_a_question_once(app, site):
    live_id = start(app)
    fan, stranger = join(app, live_id, "fan"), join(app, live_id, "stranger")
    qid = ask(fan, "Vote for me?")["question"]["id"]
    fan.get_received("/live")

    first = send(stranger, "question_vote", {"question_id": qid})
    assert first == {"ok": True, "votes": 1}
    assert [q["votes"] for q in received(fan, "question")] == [1]

    again = send(stranger, "question_vote", {"question_id": qid})
    assert again["ok"] is False and again["code"] == "already_voted"
    assert received(fan, "question") == []
    # Another tab is no way around it.
    assert (
        send(join(app, live_id, "stranger"), "question_vote", {"question_id": qid})["code"] == "already_voted"
    )
    assert question_row(app, qid).votes == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(QuestionVote)) == 1
    assert room_state(join(app, live_id, "stranger"))["you"]["voted"] == [qid]
    assert room_state(join(app, live_id, "third"))["you"]["voted"] == []

    assert send(join(app, live_id, "third"), "question_vote", {"question_id": qid}) == {
        "ok": True,
        "votes": 2,
    }


def test_nobody_votes_for_their_own_question(app, site):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    qid = ask(fan, "Mine")["question"]["id"]
    answer = send(fan, "question_vote", {"question_id": qid})
    assert answer["ok"] is False and answer["code"] == "not_allowed"
    assert question_row(app, qid).votes == 0


def test_a_visitor_cannot_vote(app, site):
    live_id = start(app)
    qid = ask(join(app, live_id, "fan"), "Anyone?")["question"]["id"]
    assert send(join(app, live_id), "question_vote", {"question_id": qid})["code"] == "login_required"
    assert question_row(app, qid).votes == 0


def test_only_open_questions_of_this_live_take_votes(app, site):
    live_id, elsewhere = start(app), start(app, host="other")
    qid = ask(join(app, live_id, "fan"), "Here")["question"]["id"]
    foreign = ask(join(app, elsewhere, "fan"), "There")["question"]["id"]
    stranger = join(app, live_id, "stranger")

    assert send(stranger, "question_vote", {"question_id": foreign})["code"] == "not_found"
    assert send(stranger, "question_vote", {"question_id": 99999})["code"] == "not_found"
    assert send(join(app, live_id, "maker"), "question_answer", {"question_id": qid})["ok"] is True
    answered = send(stranger, "question_vote", {"question_id": qid})
    assert answered["ok"] is False and answered["code"] == "conflict"
    assert question_row(app, qid).votes == 0 and question_row(app, foreign).votes == 0


def test_two_votes_racing_count_once(app, site, monkeypatch):
    """The check before the insert can miss a vote another tab is committing at the same
    moment: the primary key refuses the second, which is told already_voted."""
    live_id = start(app)
    qid = ask(join(app, live_id, "fan"), "Race?")["question"]["id"]
    with app.app_context():
        voter = accounts.get_by_username("stranger")
        live = lives.get_live(live_id)
        questions_service.vote(live, voter, qid)
        real_get = db.session.get

        def blind_get(model, key, *args, **kwargs):
            # As if the first vote had not been committed yet when we looked.
            return None if model is QuestionVote else real_get(model, key, *args, **kwargs)

        monkeypatch.setattr(db.session, "get", blind_get)
        with pytest.raises(RoomError) as refused:
            questions_service.vote(live, voter, qid)
        assert refused.value.code == "already_voted"
        monkeypatch.undo()
        assert db.session.get(Question, qid).votes == 1


def test_the_queue_is_sorted_by_votes_then_time(app, site, clock):
    live_id = start(app)
    ids = []
    for username, body in (("fan", "Oldest"), ("stranger", "Middle"), ("third", "Newest")):
        ids += asked(app, live_id, (username, body))
        clock.advance(1)
    first, second, third = ids
    # Newest: 2 votes; Middle: 1; Oldest: 1 -> Newest, Oldest (older), Middle.
    for voter, qid in (("stranger", third), ("fan", third), ("third", second), ("stranger", first)):
        assert send(join(app, live_id, voter), "question_vote", {"question_id": qid})["ok"] is True
    state = room_state(join(app, live_id, "mod"))
    assert [(q["body"], q["votes"]) for q in state["questions"]] == [
        ("Newest", 2),
        ("Oldest", 1),
        ("Middle", 1),
    ]
    # Answered ones come after the open queue.
    assert send(join(app, live_id, "maker"), "question_answer", {"question_id": third})["ok"] is True
    state = room_state(join(app, live_id, "onstage"))
    assert [(q["body"], q["status"]) for q in state["questions"]] == [
        ("Oldest", "open"),
        ("Middle", "open"),
        ("Newest", "answered"),
    ]


# -- answering, pinning, dismissing ---------------------------------------------------
def test_answering_pins_the_question_for_every_viewer(app, site):
    live_id = start(app)
    fan, stranger, host = (
        join(app, live_id, "fan"),
        join(app, live_id, "stranger"),
        join(app, live_id, "maker"),
    )
    qid = ask(fan, "Will you answer?")["question"]["id"]
    for client in (fan, stranger, host):
        client.get_received("/live")

    answer = send(host, "question_answer", {"question_id": qid})

    assert answer["ok"] is True and answer["question"]["status"] == "answered"
    assert answer["question"]["answered_offset_ms"] is not None
    for client in (fan, stranger):
        messages = [(m["name"], m["args"][0]) for m in client.get_received("/live")]
        assert messages == [("question", answer["question"]), ("pinned", {"question": answer["question"]})]
    row = question_row(app, qid)
    assert row.status == QuestionStatus.ANSWERED and row.answered_at is not None
    assert pinned_id(app, live_id) == qid
    # Someone arriving now sees it pinned, and answered in the list.
    latecomer = room_state(join(app, live_id, "third"))
    assert latecomer["pinned"] == answer["question"]
    assert latecomer["questions"] == [answer["question"]]


def test_one_pin_at_a_time_and_unpin(app, site):
    live_id = start(app)
    first, second = asked(app, live_id, ("fan", "First"), ("stranger", "Second"))
    mod, viewer = join(app, live_id, "mod"), join(app, live_id, "third")
    assert send(mod, "question_answer", {"question_id": first})["ok"] is True
    viewer.get_received("/live")

    assert send(mod, "question_answer", {"question_id": second})["ok"] is True
    assert [p["question"]["id"] for p in received(viewer, "pinned")] == [second]
    assert pinned_id(app, live_id) == second
    assert question_row(app, first).status == QuestionStatus.ANSWERED  # still answered, not pinned
    assert room_state(join(app, live_id, "fan"))["pinned"]["id"] == second

    assert send(mod, "question_unpin", {}) == {"ok": True}
    assert received(viewer, "pinned") == [{"question": None}]
    assert pinned_id(app, live_id) is None
    assert question_row(app, second).status == QuestionStatus.ANSWERED
    assert room_state(join(app, live_id, "fan"))["pinned"] is None


def test_dismissing_the_pinned_question_unpins_it_and_hides_it_from_viewers(app, site):
    live_id = start(app)
    (qid,) = asked(app, live_id, ("fan", "Off topic"))
    host, viewer = join(app, live_id, "maker"), join(app, live_id, "stranger")
    assert send(host, "question_answer", {"question_id": qid})["ok"] is True
    host.get_received("/live")
    viewer.get_received("/live")

    answer = send(host, "question_dismiss", {"question_id": qid})

    assert answer["ok"] is True and answer["question"]["status"] == "dismissed"
    to_viewer = viewer.get_received("/live")
    assert [m["name"] for m in to_viewer] == ["question_removed", "pinned"]
    assert to_viewer[0]["args"][0] == {"id": qid}
    assert to_viewer[1]["args"][0] == {"question": None}
    assert "Off topic" not in repr(to_viewer)  # the text is not sent to viewers again
    to_host = host.get_received("/live")
    assert [m["args"][0]["status"] for m in to_host if m["name"] == "question"] == ["dismissed"]
    assert question_row(app, qid).status == QuestionStatus.DISMISSED
    assert pinned_id(app, live_id) is None

    assert room_state(join(app, live_id, "third"))["questions"] == []
    staff_view = room_state(join(app, live_id, "mod"))["questions"]
    assert [(q["id"], q["status"]) for q in staff_view] == [(qid, "dismissed")]

    again = send(host, "question_dismiss", {"question_id": qid})
    assert again["ok"] is False and again["code"] == "conflict"
    assert send(host, "question_answer", {"question_id": qid})["code"] == "conflict"


def test_dismissing_another_question_leaves_the_pin(app, site):
    live_id = start(app)
    pinned, other = asked(app, live_id, ("fan", "Pinned"), ("stranger", "Other"))
    host, viewer = join(app, live_id, "maker"), join(app, live_id, "third")
    send(host, "question_answer", {"question_id": pinned})
    viewer.get_received("/live")
    assert send(host, "question_dismiss", {"question_id": other})["ok"] is True
    assert [m["name"] for m in viewer.get_received("/live")] == ["question_removed"]
    assert pinned_id(app, live_id) == pinned


def test_admins_act_as_staff(app, site):
    live_id = start(app)
    (qid,) = asked(app, live_id, ("fan", "For the admin"))
    assert send(join(app, live_id, "siteadmin"), "question_answer", {"question_id": qid})["ok"] is True
    assert pinned_id(app, live_id) == qid


def make_guest(app, live_id: int, username: str) -> None:
    with app.app_context():
        db.session.add(LiveGuest(live_id=live_id, user_id=user_id(app, username), status=GuestStatus.ACTIVE))
        db.session.commit()


@pytest.mark.parametrize("who", [None, "stranger", "onstage", "fan"])
@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("question_answer", "open"),
        ("question_dismiss", "open"),
        ("question_dismiss", "pinned"),
        ("question_unpin", None),
    ],
)
def test_only_staff_answer_dismiss_or_unpin(app, site, who, event, payload):
    """A visitor, a viewer, a guest on stage or the question's own author forging a
    staff event is refused, and nothing changes in the database or the room."""
    live_id = start(app)
    make_guest(app, live_id, "onstage")
    open_id, pinned = asked(app, live_id, ("fan", "Still open"), ("third", "Pinned"))
    assert send(join(app, live_id, "maker"), "question_answer", {"question_id": pinned})["ok"] is True
    witness = join(app, live_id, "mod")
    forger = join(app, live_id, who)
    if who == "onstage":
        assert room_state(forger)["you"]["role"] == "guest"
    witness.get_received("/live")

    body = {} if payload is None else {"question_id": open_id if payload == "open" else pinned}
    answer = send(forger, event, body)

    assert answer["ok"] is False
    assert answer["code"] == ("login_required" if who is None else "not_allowed")
    assert received(forger, "room_error") == [answer]
    assert question_row(app, open_id).status == QuestionStatus.OPEN
    assert question_row(app, pinned).status == QuestionStatus.ANSWERED
    assert pinned_id(app, live_id) == pinned
    assert witness.get_received("/live") == []


# -- malformed payloads ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("question_ask", None),
        ("question_ask", "How?"),
        ("question_ask", ["How?"]),
        ("question_ask", {}),
        ("question_ask", {"body": 42}),
        ("question_ask", {"body": ["How?"]}),
        ("question_ask", {"body": "How?", "anonymous": "yes"}),
        ("question_ask", {"body": "How?", "anonymous": 1}),
        ("question_vote", {}),
        ("question_vote", {"question_id": True}),
        ("question_vote", {"question_id": "1"}),
        ("question_vote", {"question_id": 1.0}),
        ("question_vote", {"question_id": -1}),
        ("question_vote", 7),
        ("question_answer", {"question_id": None}),
        ("question_answer", {"question_id": True}),
        ("question_dismiss", {"question_id": [1]}),
        ("question_unpin", "now"),
    ],
)
def test_malformed_payloads_are_invalid(app, site, event, payload):
    live_id = start(app)
    (qid,) = asked(app, live_id, ("fan", "Question 1"))
    assert qid == 1  # so a payload like ``true`` would hit a real question if taken as 1
    client = join(
        app,
        live_id,
        "maker" if event in ("question_answer", "question_dismiss", "question_unpin") else "stranger",
    )
    answer = send(client, event, payload)
    assert answer["ok"] is False and answer["code"] == "invalid", answer
    row = question_row(app, qid)
    assert row.votes == 0 and row.status == QuestionStatus.OPEN
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Question)) == 1


def test_a_question_may_hold_markup_as_plain_text(app, site):
    """The payload carries the text as typed; pages render it with textContent."""
    live_id = start(app)
    body = '<img src=x onerror="alert(1)">'
    assert ask(join(app, live_id, "fan"), body)["question"]["body"] == body


# -- CSV export -----------------------------------------------------------------------
def export_rows(response) -> list[list[str]]:
    text = response.get_data().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_host_exports_the_questions_as_csv(app, site, clock):
    live_id = start(app)
    set_anonymous(app, live_id, True)
    with app.app_context():
        live = lives.get_live(live_id)
        live.started_at = clock.now - timedelta(minutes=1, seconds=5)
        db.session.commit()
    first = ask(join(app, live_id, "fan"), '=HYPERLINK("http://evil.example","click")')["question"]["id"]
    clock.advance(3600)
    second = ask(join(app, live_id, "stranger"), "Shy question", anonymous=True)["question"]["id"]
    third = ask(join(app, live_id, "third"), "@dismiss me")["question"]["id"]
    send(join(app, live_id, "onstage"), "question_vote", {"question_id": second})
    clock.advance(30)
    host = join(app, live_id, "maker")
    send(host, "question_answer", {"question_id": second})
    send(host, "question_dismiss", {"question_id": third})
    with app.app_context():
        lives.end_live(lives.get_live(live_id), "host")  # exported after the live

    response = login(app, "maker").get(f"/lives/{live_id}/questions.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"live-{live_id}-questions-" in disposition
    rows = export_rows(response)
    assert rows[0] == [
        "Asked at (UTC)",
        "Time in the live",
        "Question",
        "Author",
        "Votes",
        "Status",
        "Answered at (time in the live)",
    ]
    asked_at = question_row(app, first).created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows[1] == [
        asked_at,
        "0:01:05",
        '\'=HYPERLINK("http://evil.example","click")',
        "fan",
        "0",
        "open",
        "",
    ]
    assert rows[2][1:] == ["1:01:05", "Shy question", "anonymous", "1", "answered", "1:01:35"]
    assert rows[3][2:] == ["'@dismiss me", "third", "0", "dismissed", ""]
    assert len(rows) == 4


@pytest.mark.parametrize(
    ("who", "status"),
    [("maker", 200), ("mod", 200), ("siteadmin", 200), ("fan", 403), ("other", 403)],
)
def test_only_the_host_moderators_and_admins_export(app, site, who, status):
    live_id = start(app)
    asked(app, live_id, ("fan", "Private to the host?"))
    response = login(app, who).get(f"/lives/{live_id}/questions.csv")
    assert response.status_code == status
    assert ("Private to the host?" in response.get_data(as_text=True)) == (status == 200)


def test_export_needs_a_login_and_a_real_live(app, site):
    live_id = start(app)
    response = app.test_client().get(f"/lives/{live_id}/questions.csv")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login(app, "maker").get("/lives/99999/questions.csv").status_code == 404

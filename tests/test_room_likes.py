"""Hearts over Socket.IO (docs/realtime.md, /live ``like``): gathered in the process and
counted once a second (services/likes.py), limited per person, never lost."""

from __future__ import annotations

import time

import pytest
from room_chat_support import Clock, drain, join, make_site, received, room_state, send, start

from livelite.extensions import db
from livelite.models import RoomSettings
from livelite.services import likes as likes_service
from livelite.services.room import RateLimiter


@pytest.fixture
def site(app):
    with app.app_context():
        make_site()
    yield
    app.extensions["livelite.media"].shutdown()


@pytest.fixture
def hearts(app):
    """An aggregator without its background task: the test flushes by hand."""
    return likes_service.install(app, likes_service.LikeAggregator(app, spawn=lambda *args: None))


@pytest.fixture
def clock(app):
    fake = Clock()
    app.extensions["livelite.room_limits"] = RateLimiter(clock=fake.monotonic)
    return fake


def like(client, count) -> dict:
    return send(client, "like", {"count": count})


def stored_total(app, live_id: int) -> int | None:
    with app.app_context():
        row = db.session.get(RoomSettings, live_id)
        return row.likes if row else None


def flush(app, hearts) -> dict[int, int]:
    with app.app_context():
        return hearts.flush()


def test_taps_are_counted_together_once_per_flush(app, site, hearts):
    live_id = start(app)
    fan, stranger, visitor = join(app, live_id, "fan"), join(app, live_id, "stranger"), join(app, live_id)
    drain(fan, stranger, visitor)

    for _ in range(5):
        assert like(fan, 3) == {"ok": True, "count": 3}
    assert like(stranger, 2)["ok"] is True
    assert received(visitor, "likes") == []  # nothing is sent per tap
    assert stored_total(app, live_id) == 0

    assert flush(app, hearts) == {live_id: 17}

    for client in (fan, stranger, visitor):
        assert received(client, "likes") == [{"total": 17, "added": 17}]
    assert stored_total(app, live_id) == 17
    assert flush(app, hearts) == {}  # nothing new: nothing sent
    assert received(visitor, "likes") == []

    like(fan, 4)
    flush(app, hearts)
    assert received(visitor, "likes") == [{"total": 21, "added": 4}]
    assert room_state(join(app, live_id))["likes"] == 21


def test_each_live_gets_its_own_count(app, site, hearts):
    mine, theirs = start(app), start(app, host="other")
    here, there = join(app, mine, "fan"), join(app, theirs, "stranger")
    drain(here, there)
    like(here, 5)
    like(there, 2)
    assert flush(app, hearts) == {mine: 5, theirs: 2}
    assert received(here, "likes") == [{"total": 5, "added": 5}]
    assert received(there, "likes") == [{"total": 2, "added": 2}]


def test_hearts_over_the_per_second_limit_are_refused(app, site, hearts, clock):
    live_id = start(app)
    fan, stranger = join(app, live_id, "fan"), join(app, live_id, "stranger")
    drain(fan)
    assert like(fan, 15)["ok"] is True
    assert like(fan, 5)["ok"] is True

    answer = like(fan, 3)

    assert answer["ok"] is False and answer["code"] == "rate_limited"
    assert answer["retry_after"] == 1
    assert received(fan, "room_error") == [answer]
    assert like(stranger, 20)["ok"] is True  # per person
    clock.advance(0.5)
    assert like(fan, 10)["ok"] is True  # 20 a second: ten more after half a second
    assert hearts.pending(live_id) == 15 + 5 + 20 + 10
    flush(app, hearts)
    assert stored_total(app, live_id) == 50


def test_more_hearts_at_once_than_a_second_allows_is_refused_without_a_wait(app, site, hearts, clock):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    answer = like(fan, 21)
    assert answer["ok"] is False and answer["code"] == "rate_limited"
    assert "retry_after" not in answer and "20" in answer["error"]
    assert hearts.pending(live_id) == 0
    assert like(fan, 20)["ok"] is True  # nothing was charged for the refused one


@pytest.mark.parametrize(
    "payload",
    [
        None,
        3,
        "3",
        [3],
        {},
        {"count": 0},
        {"count": 51},
        {"count": -1},
        {"count": True},
        {"count": 1.5},
        {"count": "3"},
        {"count": None},
    ],
)
def test_a_malformed_like_is_invalid(app, site, hearts, payload):
    live_id = start(app)
    fan = join(app, live_id, "fan")
    answer = send(fan, "like", payload)
    assert answer["ok"] is False and answer["code"] == "invalid"
    assert fan.is_connected("/live")
    assert hearts.pending(live_id) == 0


def test_a_visitor_cannot_like(app, site, hearts):
    live_id = start(app)
    answer = like(join(app, live_id), 1)
    assert answer["ok"] is False and answer["code"] == "login_required"
    assert hearts.pending(live_id) == 0


def test_no_hearts_for_an_ended_live_but_the_last_ones_are_counted(app, site, hearts):
    live_id = start(app)
    fan, visitor = join(app, live_id, "fan"), join(app, live_id)
    like(fan, 7)
    drain(visitor)

    app.extensions["livelite.media"].end_live(live_id, "host")

    assert stored_total(app, live_id) == 7  # counted when the live ended, without a flush
    assert received(visitor, "likes") == [{"total": 7, "added": 7}]
    answer = like(fan, 1)
    assert answer["ok"] is False and answer["code"] == "live_ended"


def test_a_failed_flush_keeps_the_hearts_for_the_next(app, site, hearts, monkeypatch):
    live_id = start(app)
    fan, visitor = join(app, live_id, "fan"), join(app, live_id)
    like(fan, 9)
    drain(visitor)
    real_store = likes_service._store

    def broken(*args):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(likes_service, "_store", broken)
    with pytest.raises(RuntimeError):
        flush(app, hearts)
    assert hearts.pending(live_id) == 9 and received(visitor, "likes") == []

    monkeypatch.setattr(likes_service, "_store", real_store)
    assert flush(app, hearts) == {live_id: 9}
    assert received(visitor, "likes") == [{"total": 9, "added": 9}]


def test_the_background_task_counts_every_second_and_survives_errors(app, site, monkeypatch, caplog):
    """The real task (started by the first heart, in a thread under the test server):
    a round that fails is logged, and the next one counts everything."""
    monkeypatch.setattr(likes_service, "FLUSH_SECONDS", 0.2)
    monkeypatch.setattr(likes_service, "IDLE_ROUNDS", 2)
    real_store = likes_service._store
    failures = []

    def flaky(live_id, added):
        if not failures:
            failures.append(added)
            raise RuntimeError("database is locked")
        return real_store(live_id, added)

    monkeypatch.setattr(likes_service, "_store", flaky)
    live_id = start(app)
    fan, visitor = join(app, live_id, "fan"), join(app, live_id)
    drain(visitor)

    assert like(fan, 5)["ok"] is True
    assert like(fan, 6)["ok"] is True
    hearts = app.extensions["livelite.likes"]
    deadline = time.monotonic() + 5
    got = []
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
        got = received(visitor, "likes")

    assert got == [{"total": 11, "added": 11}]
    assert failures == [11]
    assert "counting hearts failed" in caplog.text
    assert hearts.wait_idle(5)  # nothing left: the task stops
    assert stored_total(app, live_id) == 11


def test_room_state_carries_the_total(app, site, hearts):
    live_id = start(app)
    with app.app_context():
        db.session.add(RoomSettings(live_id=live_id, likes=1234))
        db.session.commit()
    assert room_state(join(app, live_id))["likes"] == 1234

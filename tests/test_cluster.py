"""Several processes through a real Redis (livelite/cluster.py), in one test process: two
apps stand for two server processes sharing one Redis and one database.

The whole path through real server processes and sockets is in
test_cluster_processes.py.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from factories import make_admin
from redis_support import redis_config, redis_server  # noqa: F401  (fixtures)

from livelite import cluster as cluster_mod
from livelite.cluster import IngestUnavailable, RedisPresence, RedisRateLimiter
from livelite.extensions import db
from livelite.media.manager import LiveMedia, RemoteMedia
from livelite.models import Attendance, Live, LiveStatus
from livelite.services import analytics, lives, videos


def spawn(func, *args):
    thread = threading.Thread(target=func, args=args, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def two(make_app, redis_config, tmp_path):  # noqa: F811
    """An ingest process and a web process on one database and one Redis."""
    shared = tmp_path / "site"
    ingest = make_app(INSTANCE_PATH=shared, **redis_config)
    web = make_app(INSTANCE_PATH=shared, INGEST=False, **redis_config)
    yield ingest, web
    for app in (ingest, web):
        cluster_mod.of(app).stop()


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_redis_url_sets_the_socketio_queue_and_the_page_rate_limits(make_app, redis_config):  # noqa: F811
    app = make_app(**redis_config)
    assert app.config["SOCKETIO_MESSAGE_QUEUE"] == redis_config["REDIS_URL"]
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_config["REDIS_URL"]
    assert isinstance(app.extensions["livelite.presence"], RedisPresence)
    assert isinstance(app.extensions["livelite.room_limits"], RedisRateLimiter)
    assert isinstance(app.extensions["livelite.media"], LiveMedia)
    web = make_app(INGEST=False, **redis_config)
    assert isinstance(web.extensions["livelite.media"], RemoteMedia)
    # Without Redis, nothing of this: one process as before.
    alone = make_app()
    assert alone.config["SOCKETIO_MESSAGE_QUEUE"] is None
    assert not isinstance(alone.extensions["livelite.presence"], RedisPresence)


def test_presence_is_the_sites_across_processes(two):
    ingest, web = two
    a, b = ingest.extensions["livelite.presence"], web.extensions["livelite.presence"]
    assert a.join(7, "user:1", "sid-a") == (1, True)
    # The same person in another process: not a new viewer, not their first connection.
    assert b.join(7, "user:1", "sid-b") == (1, False)
    assert b.join(7, "visitor:x", "sid-c") == (2, True)
    assert a.count(7) == b.count(7) == 2
    assert sorted(a.sids_of(7, "user:1")) == ["sid-a", "sid-b"]
    assert sorted(a.identities(7)) == ["user:1", "visitor:x"]
    assert a.leave("sid-a") == (7, 2, "user:1", False)
    # A connection this process does not hold is not its to forget.
    assert a.leave("sid-b") is None
    assert b.leave("sid-b") == (7, 1, "user:1", True)
    assert b.leave("sid-c") == (7, 0, "visitor:x", True)
    assert a.count(7) == 0


def test_a_dead_process_presences_are_taken_back_and_attendance_closed(two):
    ingest, web = two
    with web.app_context():
        host = make_admin()
        live = lives.start_live(host, title="Class")
        live_id = live.id
        analytics.attendance_join(live_id, "visitor:a")
    web_presence = web.extensions["livelite.presence"]
    cluster_mod.of(web).beat()
    web_presence.join(live_id, "visitor:a", "sid-1")
    web_presence.join(live_id, "visitor:b", "sid-2")
    ingest_presence = ingest.extensions["livelite.presence"]
    ingest_presence.join(live_id, "visitor:b", "sid-3")
    assert ingest_presence.count(live_id) == 2

    # The web process dies: no clean stop, its heartbeat key expires.
    shared = cluster_mod.of(web)
    shared.redis.delete(shared.key("alive", shared.proc_id))
    cluster_mod.of(ingest).beat()

    # visitor a was only there: gone, and their attendance row closed; visitor b still
    # watches through the ingest process.
    assert ingest_presence.identities(live_id) == ["visitor:b"]
    assert ingest_presence.sids_of(live_id, "visitor:b") == ["sid-3"]
    with ingest.app_context():
        row = db.session.scalar(db.select(Attendance).where(Attendance.identity == "visitor:a"))
        assert row.left_at is not None
    # Taken back once: a second pass changes nothing.
    cluster_mod.of(ingest).beat()
    assert ingest_presence.count(live_id) == 1


def test_presence_is_put_back_after_redis_lost_its_data(two, redis_server):  # noqa: F811
    ingest, _web = two
    shared = cluster_mod.of(ingest)
    presence = ingest.extensions["livelite.presence"]
    shared.beat()
    presence.join(3, "user:1", "sid-1")
    presence.join(3, "user:2", "sid-2")
    redis.Redis.from_url(redis_server.url).flushdb()
    assert presence.count(3) == 0
    shared.beat()  # the next heartbeat finds the process list empty and registers again
    assert presence.count(3) == 2
    assert presence.leave("sid-1") == (3, 1, "user:1", True)


def test_room_rate_limits_are_shared_by_every_process(two):
    ingest, web = two
    a, b = ingest.extensions["livelite.room_limits"], web.extensions["livelite.room_limits"]
    for limiter in (a, a, a, b, b):
        assert limiter.hit("chat:9", 5, 10) == 0
    wait = b.hit("chat:9", 5, 10)
    assert 0 < wait <= 2.1  # one token comes back every 2 s
    assert a.hit("chat:9", 5, 10) > 0
    assert a.hit("chat:10", 5, 10) == 0  # someone else's bucket
    a.reset("chat:9")
    assert b.hit("chat:9", 5, 10) == 0


def test_requests_reach_the_ingest_process_and_fail_clearly_without_it(two):
    ingest, web = two
    calls = []
    shared = cluster_mod.of(ingest)

    @shared.handler("echo")
    def _echo(app, value):
        calls.append((app, value))
        return {"got": value}

    with pytest.raises(IngestUnavailable):
        cluster_mod.of(web).to_ingest("echo", wait=1, value=1)
    shared.start(spawn)
    wait_until(lambda: shared.redis.pubsub_numsub(shared.key("ingest"))[0][1] == 1)
    assert cluster_mod.of(web).to_ingest("echo", wait=5, value=[1, "two"]) == {"got": [1, "two"]}
    assert calls == [(ingest, [1, "two"])]
    # In the ingest process itself the call is direct.
    assert shared.to_ingest("echo", value=3) == {"got": 3}

    @shared.handler("broken")
    def _broken(app):
        raise ValueError("no")

    with pytest.raises(RuntimeError, match="ValueError: no"):
        cluster_mod.of(web).to_ingest("broken", wait=5)


def test_ending_a_live_from_a_web_process_goes_through_the_ingest_process(two):
    ingest, web = two
    from livelite.media.manager import register_ingest_handlers

    shared = cluster_mod.of(ingest)
    register_ingest_handlers(shared)
    heard = []
    ingest.extensions["livelite.media"].listeners.append(lambda event, live_id, payload: heard.append(event))
    with web.app_context():
        live_id = lives.start_live(make_admin(), title="Ends elsewhere").id
    shared.start(spawn)
    wait_until(lambda: shared.redis.pubsub_numsub(shared.key("ingest"))[0][1] == 1)
    web.extensions["livelite.media"].end_live(live_id, "host")
    assert heard == ["live_ended"]  # the ingest process finished the feeds and told everyone
    with web.app_context():
        live = db.session.get(Live, live_id)
        assert (live.status, live.end_reason) == (LiveStatus.ENDED, "host")


def test_a_live_still_ends_when_no_ingest_process_answers(two):
    _ingest, web = two
    heard = []
    web.extensions["livelite.media"].listeners.append(lambda event, live_id, payload: heard.append(payload))
    with web.app_context():
        live_id = lives.start_live(make_admin(), title="Ingest down").id
    web.extensions["livelite.media"].end_live(live_id, "admin")
    with web.app_context():
        live = db.session.get(Live, live_id)
        assert (live.status, live.end_reason) == (LiveStatus.ENDED, "admin")
    assert heard == [{"reason": "admin"}]


def test_work_submitted_in_a_web_process_is_queued_by_the_ingest_process(two):
    ingest, web = two
    got = []
    shared = cluster_mod.of(ingest)
    shared.handler("submit")(lambda app, queue, key: got.append((queue, key)))
    # Nobody listening: the key stays for the ingest process's recover() at its start.
    assert videos.queue_of(web).submit(12) is False
    shared.start(spawn)
    wait_until(lambda: shared.redis.pubsub_numsub(shared.key("ingest"))[0][1] == 1)
    assert videos.queue_of(web).submit(12) is True
    from livelite.services import replays

    assert replays.queue_of(web).submit(("mp4", 4)) is True
    wait_until(lambda: len(got) == 2)
    assert got == [("video", 12), ("replay", ["mp4", 4])]


def test_recovering_attendance_keeps_people_still_connected_elsewhere(two):
    ingest, web = two
    with ingest.app_context():
        live_id = lives.start_live(make_admin(), title="Restarted ingest").id
        seen = datetime.now(UTC) - timedelta(seconds=30)
        for identity in ("user:1", "user:2"):
            db.session.add(Attendance(live_id=live_id, identity=identity, joined_at=seen, seen_at=seen))
        db.session.commit()
    web.extensions["livelite.presence"].join(live_id, "user:2", "sid-web")
    with ingest.app_context():
        assert analytics.recover_attendance(ingest.extensions["livelite.presence"]) == 1
        rows = {r.identity: r.left_at for r in db.session.scalars(db.select(Attendance))}
    assert rows["user:1"] is not None and rows["user:2"] is None


def test_without_redis_reads_and_rate_limits_fall_back_to_this_process(make_app):
    from redis_support import _free_port

    app = make_app(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0", REDIS_PREFIX="down:")
    presence = app.extensions["livelite.presence"]
    # A join needs Redis: it fails and nothing of it is kept here either.
    with pytest.raises(redis.ConnectionError):
        presence.join(1, "user:1", "sid-1")
    assert presence.local.entries() == []
    assert presence.dirty is True  # the next heartbeat that reaches Redis puts it right
    # Reads answer with this process's own figures.
    presence.local.join(1, "user:2", "sid-2")
    assert presence.count(1) == 1
    assert presence.identities(1) == ["user:2"]
    limits = app.extensions["livelite.room_limits"]
    assert [limits.hit("chat:1", 2, 10) == 0 for _ in range(3)] == [True, True, False]


def test_logging_in_does_not_depend_on_redis_being_up(make_app):
    from factories import PASSWORD, make_user
    from pages import submit
    from redis_support import _free_port

    app = make_app(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0", RATELIMIT_ENABLED=True)
    with app.app_context():
        make_admin()
        make_user("ann")
    client = app.test_client()
    response = submit(client, "/login", {"login": "ann", "password": PASSWORD})
    assert response.status_code == 302  # limited in this process while Redis is away

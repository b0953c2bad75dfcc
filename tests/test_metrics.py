"""``GET /metrics``: the Prometheus text format, figures computed from known fixtures on
the real SQLite database and the app's real ffmpeg, and who may read it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from factories import PASSWORD, make_admin, make_user
from media_support import publish_recording
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from room_chat_support import join
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import ChatMessage, Question, Replay, Role, Video, VideoStatus
from livelite.services import accounts, chat, coins, gifts, lives, questions, replays, videos

OTHER_ADDRESS = {"REMOTE_ADDR": "10.0.0.5"}
TOKEN = "s3cret-metrics-token-0123456789"


def scrape(client, **kwargs) -> dict:
    """The samples of one scrape: ``{(name, (("label", "value"), ...)): value}``."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert response.headers["Cache-Control"] == "no-store"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def ffmpeg(samples: dict) -> dict[str, float]:
    return {
        kind: value(samples, "livelite_ffmpeg_processes", kind=kind) for kind in ("ingest", "video", "replay")
    }


def refused(response) -> bool:
    """A 404 that says nothing about metrics."""
    return response.status_code == 404 and b"livelite_" not in response.data


@pytest.fixture
def site(app):
    """Two accounts: the admin and a creator (the host)."""
    with app.app_context():
        make_admin()
        make_user("maker", role=Role.CREATOR)
    return app


def test_figures_of_a_site_with_a_live(site, client):
    app = site
    empty = scrape(client)
    assert value(empty, "livelite_users_total") == 2
    roles = {role.value: value(empty, "livelite_users_by_role", role=role.value) for role in Role}
    assert roles == {"admin": 1, "moderator": 0, "creator": 1, "member": 0}
    assert value(empty, "livelite_lives_live") == 0
    assert value(empty, "livelite_viewers") == 0
    assert value(empty, "livelite_chat_messages_total") == 0
    assert value(empty, "livelite_questions_total") == 0
    assert (value(empty, "livelite_gifts_total"), value(empty, "livelite_gift_coins_total")) == (0, 0)
    assert ffmpeg(empty) == {"ingest": 0, "video": 0, "replay": 0}
    # prometheus_client's own process metrics come along.
    assert value(empty, "process_resident_memory_bytes") > 0
    assert value(empty, "process_open_fds") > 0

    with app.app_context():
        maker, admin = accounts.get_by_username("maker"), accounts.get_by_username("siteadmin")
        live = lives.start_live(maker, title="Metrics")
        live_id = live.id
        chat.send_message(live, maker, "Hello everyone")
        questions.ask(live, admin, "What are we making today?")
        coins.grant(admin, "siteadmin", 50, "for the test", "metrics-grant")
        rose = next(g for g in gifts.catalogue() if g.name == "Rose")
        gifts.send_gift(live, admin, maker.id, rose.id, 3, "metrics-gift")
        gift_coins = 3 * rose.coins
    visitor = join(app, live_id)
    watcher = join(app, live_id, "siteadmin")
    try:
        during = scrape(client)
        assert value(during, "livelite_lives_live") == 1
        assert value(during, "livelite_viewers") == 2
        assert value(during, "livelite_chat_messages_total") == 1
        assert value(during, "livelite_questions_total") == 1
        assert value(during, "livelite_gifts_total") == 1
        assert value(during, "livelite_gift_coins_total") == gift_coins > 0
        assert value(during, "livelite_users_total") == 2
    finally:
        visitor.disconnect("/live")
        watcher.disconnect("/live")
    after = scrape(client)
    assert value(after, "livelite_viewers") == 0
    assert value(after, "livelite_lives_live") == 1

    with app.app_context():
        lives.end_live(lives.get_live(live_id), "host")
    ended = scrape(client)
    assert value(ended, "livelite_lives_live") == 0
    # Counters stay where they were once the live is over.
    assert value(ended, "livelite_chat_messages_total") == 1


def test_message_counters_do_not_go_down_when_an_account_is_deleted(site, client):
    """Deleting an account deletes its messages and questions (CASCADE); a counter
    that went down would read as a reset and a false burst in Prometheus' rate().
    (Only the site's very newest rows going would lower it: see livelite.metrics.)"""
    app = site
    with app.app_context():
        maker = accounts.get_by_username("maker")
        fan = make_user("fan")
        live = lives.start_live(maker, title="Counting")
        chat.send_message(live, fan, "First!")
        questions.ask(live, fan, "Can you hear me?")
        chat.send_message(live, maker, "Welcome")
        questions.ask(live, accounts.get_by_username("siteadmin"), "And me?")
        before = scrape(client)
        accounts.delete_account(fan, PASSWORD)
        assert db.session.scalar(select(func.count()).select_from(ChatMessage)) == 1
        assert db.session.scalar(select(func.count()).select_from(Question)) == 1
    after = scrape(client)
    for name in ("livelite_chat_messages_total", "livelite_questions_total"):
        assert value(after, name) == value(before, name) == 2, name
    assert value(after, "livelite_users_total") == value(before, "livelite_users_total") - 1 == 2


def test_an_ingest_counts_as_a_running_ffmpeg_and_its_replay_as_storage(site, client):
    app = site
    media = app.extensions["livelite.media"]
    with app.app_context():
        live_id = lives.start_live(accounts.get_by_username("maker"), title="On air").id
        db.session.add(
            Video(
                creator_id=accounts.get_by_username("maker").id,
                caption="",
                status=VideoStatus.READY,
                size_bytes=1000,
            )
        )
        db.session.commit()
    feed_id = publish_recording(app, live_id, seconds=3, finish=False)
    try:
        running = scrape(client)
        assert ffmpeg(running) == {"ingest": 1, "video": 0, "replay": 0}
        assert value(running, "livelite_replays") == 0
        assert value(running, "livelite_storage_bytes", kind="videos") == 1000
        # A crashed ffmpeg is not running, though its feed still has an ingest (the
        # next bytes from the publisher would restart it).
        media.ingests[feed_id].kill()
        assert feed_id in media.ingests
        assert ffmpeg(scrape(client))["ingest"] == 0
    finally:
        media.end_live(live_id, "host")

    done = scrape(client)
    assert ffmpeg(done)["ingest"] == 0
    with app.app_context():
        (replay,) = db.session.scalars(db.select(Replay)).all()
        assert replay.size_bytes > 0
        assert value(done, "livelite_replays") == 1
        assert value(done, "livelite_storage_bytes", kind="replays") == replay.size_bytes
    free = shutil.disk_usage(app.config["MEDIA_ROOT"]).free
    # The disk is shared with other work: the two readings are close, not equal.
    assert abs(value(done, "livelite_disk_free_bytes") - free) < 0.05 * free


def test_the_work_queues_ffmpeg_are_counted_while_they_run(app, client):
    """What the video and replay queues are running (their ``on_start`` hook)."""
    video_queue, replay_queue = videos.queue_of(app), replays.queue_of(app)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    conversion = subprocess.Popen(sleeper)
    remux = subprocess.Popen(sleeper)
    try:
        video_queue._started(conversion)
        replay_queue._started(remux)
        assert ffmpeg(scrape(client)) == {"ingest": 0, "video": 1, "replay": 1}
        conversion.kill()
        conversion.wait()
        assert ffmpeg(scrape(client)) == {"ingest": 0, "video": 0, "replay": 1}
    finally:
        for process in (conversion, remux):
            process.kill()
            process.wait()
    assert ffmpeg(scrape(client)) == {"ingest": 0, "video": 0, "replay": 0}


def test_other_addresses_get_a_404_unless_they_bring_the_token(make_app):
    closed = make_app().test_client()
    assert refused(closed.get("/metrics", environ_overrides=OTHER_ADDRESS))
    # No token configured: no bearer token opens it, not even an empty one.
    for header in (f"Bearer {TOKEN}", "Bearer ", "Bearer None"):
        assert refused(
            closed.get("/metrics", environ_overrides=OTHER_ADDRESS, headers={"Authorization": header})
        )

    client = make_app(METRICS_TOKEN=TOKEN).test_client()
    assert refused(client.get("/metrics", environ_overrides=OTHER_ADDRESS))
    for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}", TOKEN):
        response = client.get("/metrics", environ_overrides=OTHER_ADDRESS, headers={"Authorization": wrong})
        assert refused(response), wrong
    samples = scrape(client, environ_overrides=OTHER_ADDRESS, headers={"Authorization": f"Bearer {TOKEN}"})
    assert value(samples, "livelite_users_total") == 0
    # From this machine no token is needed; IPv6 loopback too.
    assert scrape(client)
    assert scrape(client, environ_overrides={"REMOTE_ADDR": "::1"})


def test_an_all_digit_token_from_the_environment_works(make_app, monkeypatch):
    # LIVELITE_* values are parsed as JSON when they can be: this one becomes an int.
    monkeypatch.setenv("LIVELITE_METRICS_TOKEN", "20250101")
    client = make_app().test_client()
    assert scrape(client, environ_overrides=OTHER_ADDRESS, headers={"Authorization": "Bearer 20250101"})
    assert refused(
        client.get("/metrics", environ_overrides=OTHER_ADDRESS, headers={"Authorization": "Bearer 2025"})
    )


def test_behind_a_proxy_the_forwarded_address_decides(make_app):
    """Without PROXY_FIX, every request through nginx would come from 127.0.0.1: one
    that carries a forwarding header is not taken as local. With it, the client's
    address (the last hop nginx added) is the one checked."""
    direct = make_app().test_client()
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        assert refused(direct.get("/metrics", headers={header: "203.0.113.9"})), header

    proxied = make_app(PROXY_FIX=True).test_client()
    assert scrape(proxied, headers={"X-Forwarded-For": "127.0.0.1"})
    assert refused(proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}))
    # A client's own X-Forwarded-For comes first; nginx appends the real address.
    assert refused(proxied.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}))


def test_scrapes_are_not_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute")
    client = app.test_client()
    assert [client.get("/live").status_code for _ in range(3)] == [200, 200, 429]
    for _ in range(5):
        assert scrape(client)


def test_each_app_has_its_own_registry(make_app):
    """Tests (and a CLI next to a server) build several apps in one process."""
    first, second = make_app(), make_app()
    assert first.extensions["livelite.metrics"] is not second.extensions["livelite.metrics"]
    with first.app_context():
        make_admin()
    assert value(scrape(first.test_client()), "livelite_users_total") == 1
    assert value(scrape(second.test_client()), "livelite_users_total") == 0

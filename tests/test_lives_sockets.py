"""Socket.IO for lives (docs/realtime.md): watching on /live, publishing on /publish.

Flask-SocketIO's test client drives the real handlers (threading mode); the Flask test
client passed to it carries the logged-in session. Published chunks go to a real ffmpeg.
"""

from __future__ import annotations

import time

import pytest
from factories import PASSWORD, make_admin, make_token, make_user
from media_support import H264_MIME, clusters, recording, wait_for
from pages import submit

from livelite.extensions import socketio
from livelite.media import hls
from livelite.models import Role
from livelite.services import accounts, lives


def populate(app) -> str:
    """A creator (maker) with a follower (fan), a stranger; returns a write token for the host."""
    with app.app_context():
        make_admin()
        maker = make_user("maker", role=Role.CREATOR)
        make_user("other", role=Role.CREATOR)
        accounts.follow(make_user("fan"), maker)
        make_user("stranger")
        return make_token(maker, scopes=("read", "write"))


@pytest.fixture
def site(app):
    yield populate(app)
    app.extensions["livelite.media"].shutdown()


def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def start(app, host="maker", visibility="public") -> int:
    with app.app_context():
        return lives.start_live(accounts.get_by_username(host), title="Live", visibility=visibility).id


def watcher(app, live_id: int, browser=None, **auth):
    return socketio.test_client(
        app,
        namespace="/live",
        flask_test_client=browser or app.test_client(),
        auth={"live_id": live_id, **auth},
    )


def received(client, event: str) -> list[dict]:
    """The ``event`` payloads this client got since last asked; other events are kept."""
    buffer = client.__dict__.setdefault("_unread", [])
    buffer.extend(client.get_received("/live"))
    client._unread = [m for m in buffer if m["name"] != event]
    return [m["args"][0] for m in buffer if m["name"] == event]


def viewer_counts(client) -> list[int]:
    return [payload["count"] for payload in received(client, "viewers")]


def room_state_viewers(client) -> int:
    """The count a connection got in its own room_state."""
    return received(client, "room_state")[-1]["viewers"]


# -- /live ---------------------------------------------------------------------------
def test_watching_a_followers_only_live_needs_to_follow(app, site):
    live_id = start(app, visibility="followers")
    assert not watcher(app, live_id).is_connected("/live")
    assert not watcher(app, live_id, login(app, "stranger")).is_connected("/live")
    fan = watcher(app, live_id, login(app, "fan"))
    assert fan.is_connected("/live")
    assert viewer_counts(fan) == [1]


def test_anyone_watches_a_public_live(app, site):
    live_id = start(app)
    visitor = watcher(app, live_id)
    assert visitor.is_connected("/live")
    assert received(visitor, "viewers") == [{"live_id": live_id, "count": 1}]


def test_an_invite_only_live_needs_the_invite_to_connect(app, site):
    live_id = start(app, visibility="invite")
    with app.app_context():
        token = lives.get_live(live_id).invite_token
    assert not watcher(app, live_id).is_connected("/live")
    assert not watcher(app, live_id, invite="nope").is_connected("/live")
    assert watcher(app, live_id, invite=token).is_connected("/live")


@pytest.mark.parametrize("auth", [{}, {"live_id": "abc"}, {"live_id": None}, {"live_id": 999}])
def test_a_connection_without_a_real_live_is_refused(app, site, auth):
    start(app)
    client = socketio.test_client(app, namespace="/live", flask_test_client=app.test_client(), auth=auth)
    assert not client.is_connected("/live")


def test_the_viewer_count_is_per_person(app, site):
    live_id = start(app)
    fan_browser = login(app, "fan")
    tab1 = watcher(app, live_id, fan_browser)
    tab2 = watcher(app, live_id, fan_browser)  # the same person in a second tab
    # The second tab changes no count: nobody is told anything new.
    assert viewer_counts(tab1) == [1]
    assert viewer_counts(tab2) == []
    assert room_state_viewers(tab2) == 1

    stranger = watcher(app, live_id, login(app, "stranger"))
    assert viewer_counts(tab1) == [2] and viewer_counts(stranger) == [2]

    stranger.disconnect("/live")
    assert viewer_counts(tab1) == [1]
    tab2.disconnect("/live")  # one tab of the fan is still open
    assert viewer_counts(tab1) == []
    assert app.extensions["livelite.presence"].count(live_id) == 1


def test_a_visitors_tabs_count_once_and_each_browser_counts(app, site):
    live_id = start(app)
    browser = app.test_client()
    assert browser.get(f"/lives/{live_id}").status_code == 200  # the page, then its socket
    tab1 = watcher(app, live_id, browser)
    watcher(app, live_id, browser)
    assert viewer_counts(tab1) == [1]
    elsewhere = app.test_client()
    elsewhere.get(f"/lives/{live_id}")
    watcher(app, live_id, elsewhere)
    assert viewer_counts(tab1) == [2]


def test_a_crowd_arriving_is_told_its_count_once_a_second_not_once_per_join(make_app):
    """bench/chat: telling everyone on every join cost O(N²) packets (56 s for 2000)."""
    # Two seconds: the six joins below must fit in it even on a loaded machine.
    app = make_app(VIEWERS_BROADCAST_SECONDS=2)
    populate(app)
    live_id = start(app)
    first = watcher(app, live_id)
    assert viewer_counts(first) == [1]  # the first change goes out at once
    others = [watcher(app, live_id) for _ in range(6)]
    # Within the two seconds nobody is told; each newcomer has the count in room_state.
    assert viewer_counts(first) == []
    assert [room_state_viewers(client) for client in others] == [2, 3, 4, 5, 6, 7]
    deadline = time.monotonic() + 8
    told: list[int] = []
    while not told and time.monotonic() < deadline:
        time.sleep(0.05)
        told = viewer_counts(first)
    assert told == [7]  # one event with the count of that moment
    others[0].disconnect("/live")
    others[1].disconnect("/live")
    time.sleep(2.5)
    assert viewer_counts(first) == [5]
    assert viewer_counts(others[2]) == [7, 5]
    app.extensions["livelite.media"].shutdown()


def test_viewers_of_one_live_do_not_hear_about_another(app, site):
    mine, theirs = start(app), start(app, host="other")
    here = watcher(app, mine)
    watcher(app, theirs, login(app, "fan"))
    assert viewer_counts(here) == [1]


# -- /publish ------------------------------------------------------------------------
def publisher(app, browser):
    return socketio.test_client(app, namespace="/publish", flask_test_client=browser)


def send_chunk(client, feed_id: int, seq: int, data: bytes) -> dict:
    return client.emit(
        "publish_chunk", {"feed_id": feed_id, "seq": seq, "data": data}, namespace="/publish", callback=True
    )


def test_publishing_needs_a_login(app, site):
    assert not publisher(app, app.test_client()).is_connected("/publish")
    assert publisher(app, login(app, "stranger")).is_connected("/publish")


def test_only_the_host_may_start_publishing(app, site):
    live_id = start(app)
    stranger = publisher(app, login(app, "stranger"))
    answer = stranger.emit(
        "publish_start",
        {"live_id": live_id, "mime": H264_MIME, "recorder_id": "r1"},
        namespace="/publish",
        callback=True,
    )
    assert answer["ok"] is False
    assert answer["error"] == "Only the host publishes to this live."
    with app.app_context():
        assert lives.get_live(live_id).feeds == []
    assert app.extensions["livelite.media"].ingests == {}


def test_the_hosts_chunks_become_segments_in_order_until_the_live_ends(app, client, site):
    live_id = start(app)
    media = app.extensions["livelite.media"]
    viewer = watcher(app, live_id)
    host = publisher(app, login(app, "maker"))
    started = host.emit(
        "publish_start",
        {"live_id": live_id, "mime": H264_MIME, "recorder_id": "r1"},
        namespace="/publish",
        callback=True,
    )
    assert started["ok"] is True and started["last_seq"] == 0
    feed_id = started["feed_id"]
    chunks = clusters(recording("h264", seconds=4))

    first = send_chunk(host, feed_id, 1, chunks[0])
    assert first["ok"] is True and first["last_seq"] == 1
    assert first["viewers"] == 1 and first["health"]["input_bitrate_kbps"] > 0
    written = media.ingests[feed_id].bytes_in
    assert written == len(chunks[0])

    repeat = send_chunk(host, feed_id, 1, chunks[0])
    assert repeat == {"ok": True, "last_seq": 1}
    assert media.ingests[feed_id].bytes_in == written  # acknowledged, not written twice

    gap = send_chunk(host, feed_id, 3, chunks[2])
    assert gap["ok"] is False and gap["last_seq"] == 1 and not gap["fatal"]
    assert media.ingests[feed_id].bytes_in == written

    for seq in (2, 3, 4):
        assert send_chunk(host, feed_id, seq, chunks[seq - 1])["last_seq"] == seq
    with app.app_context():
        folder = media.feed_dir(lives.get_feed(lives.get_live(live_id), feed_id))
    wait_for(lambda: hls.total_duration(folder) >= 3, message="no segments from the published chunks")
    playlist = client.get(f"/lives/{live_id}/feeds/{feed_id}/index.m3u8").get_data(as_text=True)
    assert playlist.count("#EXTINF") >= 3

    ended = client.post(f"/api/v1/lives/{live_id}/end", headers={"Authorization": f"Bearer {site}"})
    assert ended.status_code == 200
    assert received(viewer, "live_ended") == [{"live_id": live_id, "reason": "host"}]
    late = send_chunk(host, feed_id, 5, chunks[0])
    assert late["ok"] is False and late["fatal"] is True
    # Everything sent was recorded once: four seconds.
    assert hls.total_duration(folder) == pytest.approx(4.0, abs=0.1)


def test_a_chunk_from_a_connection_that_did_not_start_the_feed_is_refused(app, site):
    live_id = start(app)
    maker_browser = login(app, "maker")
    host = publisher(app, maker_browser)
    started = host.emit(
        "publish_start",
        {"live_id": live_id, "mime": H264_MIME, "recorder_id": "r1"},
        namespace="/publish",
        callback=True,
    )
    other_tab = publisher(app, maker_browser)
    chunk = clusters(recording("h264", seconds=4))[0]
    answer = send_chunk(other_tab, started["feed_id"], 1, chunk)
    assert answer["ok"] is False
    assert app.extensions["livelite.media"].ingests[started["feed_id"]].bytes_in == 0

"""Watching over HTTP (page, playlist, segments, preview), the lives API, stream keys.

Every live here has real media: the host's feed is filled by the app's own ingest
(FeedIngest through ``app.extensions["livelite.media"]``) from an ffmpeg recording.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

import cv2
import numpy as np
import pytest
from factories import PASSWORD, make_admin, make_token, make_user
from media_support import playlist_uris, publish_recording
from pages import submit, text_of

from livelite.models import Role
from livelite.services import accounts, lives

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


@pytest.fixture
def site(app):
    """An admin, a creator (the host), one follower of the host and a stranger."""
    with app.app_context():
        admin = make_admin()
        host = make_user("maker", display_name="Mia Maker", role=Role.CREATOR)
        follower = make_user("fan")
        accounts.follow(follower, host)
        make_user("stranger")
        tokens = {
            "maker": make_token(host, scopes=("read", "write")),
            "fan": make_token(follower, scopes=("read", "write")),
            "stranger": make_token(accounts.get_by_username("stranger"), scopes=("read", "write")),
            "siteadmin": make_token(admin, scopes=("read", "write")),
            "maker-read": make_token(host, scopes=("read",)),
        }
    yield tokens
    app.extensions["livelite.media"].shutdown()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def login(app, username: str):
    """A browser of its own, logged in through the real form."""
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def start(app, title="Evening stream", visibility="public", host="maker") -> int:
    with app.app_context():
        return lives.start_live(accounts.get_by_username(host), title=title, visibility=visibility).id


def live_with_media(app, visibility="public", **kwargs) -> tuple[int, int]:
    live_id = start(app, visibility=visibility, **kwargs)
    return live_id, publish_recording(app, live_id, seconds=3)


def media_urls(live_id: int, feed_id: int) -> dict[str, str]:
    base = f"/lives/{live_id}/feeds/{feed_id}"
    return {
        "page": f"/lives/{live_id}",
        "playlist": f"{base}/index.m3u8",
        "init": f"{base}/run-0001-init.mp4",
        "segment": f"{base}/run-0001-00000.m4s",
        "preview": f"/lives/{live_id}/preview.jpg",
    }


# -- page, playlist, segments -----------------------------------------------------
def test_the_viewer_page_shows_the_title_the_host_and_the_player(app, client, site):
    live_id, feed_id = live_with_media(app, title="Sunday sketching")
    response = client.get(f"/lives/{live_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = text_of(html)
    assert "Sunday sketching" in text
    assert "Mia Maker" in text and "@maker" in text
    assert f'data-src="/lives/{live_id}/feeds/{feed_id}/index.m3u8"' in html
    assert client.get(f"/lives/{live_id + 100}").status_code == 404


def test_the_playlist_is_an_event_while_live_and_vod_once_ended(app, client, site):
    live_id, feed_id = live_with_media(app)
    url = media_urls(live_id, feed_id)["playlist"]

    live = client.get(url)
    assert live.status_code == 200
    assert live.headers["Content-Type"] == PLAYLIST_TYPE
    assert live.headers["Cache-Control"] == "no-store"
    body = live.get_data(as_text=True)
    # Live viewers get a sliding window (here shorter than the window: all of it).
    assert "#EXT-X-PLAYLIST-TYPE" not in body and "#EXT-X-ENDLIST" not in body
    assert "#EXT-X-MEDIA-SEQUENCE:0" in body
    assert playlist_uris(body) == [
        "run-0001-init.mp4",
        "run-0001-00000.m4s",
        "run-0001-00001.m4s",
        "run-0001-00002.m4s",
    ]

    app.extensions["livelite.media"].end_live(live_id, "host")
    ended = client.get(url)
    assert ended.headers["Cache-Control"] == "no-store"
    body = ended.get_data(as_text=True)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in body
    assert body.rstrip().endswith("#EXT-X-ENDLIST")


def test_segments_are_immutable_and_answer_range_requests(app, client, site):
    live_id, feed_id = live_with_media(app)
    urls = media_urls(live_id, feed_id)
    on_disk = app.extensions["livelite.media"].root / f"lives/{live_id}/feed-{feed_id}"
    data = (on_disk / "run-0001-00000.m4s").read_bytes()

    whole = client.get(urls["segment"])
    assert whole.status_code == 200
    assert whole.data == data
    assert whole.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert whole.headers["Content-Type"] == "video/iso.segment"
    init = client.get(urls["init"])
    assert init.headers["Content-Type"] == "video/mp4"
    assert init.data == (on_disk / "run-0001-init.mp4").read_bytes()

    part = client.get(urls["segment"], headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.data == data[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    tail = client.get(urls["segment"], headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.data == data[-50:]


REFUSED_NAMES = [
    "ffmpeg.log",  # written next to the segments, never served
    "run-0001.m3u8",  # ffmpeg's own playlist: the composed one is served
    "run-0001-00000.m4s.tmp",
    "run-1-00000.m4s",
    "RUN-0001-00000.M4S",
    "..%2f..%2f..%2fsecret_key",
    "..%2F..%2F..%2F..%2Fsecret_key",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2flivelite.db",
    "..%252f..%252f..%252f..%252fsecret_key",
    "..\\..\\..\\..\\secret_key",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "run-0001-00000.m4s%00.jpg",
]


def test_only_names_ffmpeg_writes_are_served(app, client, site):
    live_id, feed_id = live_with_media(app)
    on_disk = app.extensions["livelite.media"].root / f"lives/{live_id}/feed-{feed_id}"
    assert (on_disk / "ffmpeg.log").is_file() and (on_disk / "run-0001.m3u8").is_file()
    secret = (Path(app.instance_path) / "secret_key").read_bytes()
    for name in REFUSED_NAMES:
        response = client.get(f"/lives/{live_id}/feeds/{feed_id}/{name}")
        assert response.status_code == 404, name
        assert b"== run 1 at" not in response.data and b"#EXTM3U" not in response.data, name
        assert secret not in response.data and b"root:x:0:0" not in response.data, name


def test_a_feed_is_served_only_under_its_own_live(app, client, site):
    public_id, _public_feed = live_with_media(app)
    with app.app_context():
        other = make_user("other", role=Role.CREATOR)
        hidden_id = lives.start_live(other, title="Friends only", visibility="followers").id
    hidden_feed = publish_recording(app, hidden_id, seconds=2)
    for name in ("index.m3u8", "run-0001-init.mp4", "run-0001-00000.m4s"):
        assert client.get(f"/lives/{public_id}/feeds/{hidden_feed}/{name}").status_code == 404


# -- who may watch ----------------------------------------------------------------
def test_a_followers_only_live_is_closed_to_visitors_and_strangers(app, client, site):
    live_id, feed_id = live_with_media(app, visibility="followers")
    assert app.extensions["livelite.media"].make_preview(live_id)
    urls = media_urls(live_id, feed_id)
    fan, stranger, host = login(app, "fan"), login(app, "stranger"), login(app, "maker")

    for what, url in urls.items():
        assert fan.get(url).status_code == 200, what
        assert host.get(url).status_code == 200, what
        assert client.get(url).status_code == 403, what
        refused = stranger.get(url)
        assert refused.status_code == 403, what
        assert b"EXTM3U" not in refused.data and not refused.data.startswith(b"\xff\xd8")
    assert "for followers of the host" in text_of(stranger.get(urls["page"]).get_data(as_text=True))


def test_an_invite_only_live_needs_its_token_on_every_file(app, client, site):
    live_id, feed_id = live_with_media(app, visibility="invite")
    with app.app_context():
        token = lives.get_live(live_id).invite_token
    urls = media_urls(live_id, feed_id)
    for url in urls.values():
        assert client.get(url).status_code == 403
        assert client.get(f"{url}?invite=not-the-token").status_code == 403

    assert client.get(f"{urls['page']}?invite={token}").status_code == 200
    playlist_url = f"{urls['playlist']}?invite={token}"
    playlist = client.get(playlist_url)
    assert playlist.status_code == 200
    uris = playlist_uris(playlist.get_data(as_text=True))
    assert len(uris) == 4
    on_disk = app.extensions["livelite.media"].root / f"lives/{live_id}/feed-{feed_id}"
    for uri in uris:
        assert uri.endswith(f"?invite={token}")
        # As hls.js resolves them: relative to the playlist's URL.
        response = client.get(urljoin(playlist_url, uri))
        assert response.status_code == 200, uri
        assert response.data == (on_disk / uri.split("?")[0]).read_bytes()


def test_the_preview_is_a_jpeg_of_the_live(app, client, site):
    live_id, _feed_id = live_with_media(app)
    assert client.get(f"/lives/{live_id}/preview.jpg").status_code == 404  # none made yet
    assert app.extensions["livelite.media"].make_preview(live_id)
    response = client.get(f"/lives/{live_id}/preview.jpg")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (240, 320, 3)


def test_x_accel_redirect_hands_the_bytes_to_nginx(make_app):
    app = make_app(X_ACCEL_REDIRECT_PREFIX="/protected-media/")
    with app.app_context():
        make_admin()
        make_user("maker", role=Role.CREATOR)
    try:
        live_id, feed_id = live_with_media(app)
        client = app.test_client()
        response = client.get(media_urls(live_id, feed_id)["segment"])
        assert response.status_code == 200
        assert response.headers["X-Accel-Redirect"] == (
            f"/protected-media/lives/{live_id}/feed-{feed_id}/run-0001-00000.m4s"
        )
        assert response.headers["Content-Type"] == "video/iso.segment"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.data == b""
        missing = client.get(f"/lives/{live_id}/feeds/{feed_id}/run-0001-00099.m4s")
        assert missing.status_code == 404 and "X-Accel-Redirect" not in missing.headers
    finally:
        app.extensions["livelite.media"].shutdown()


# -- the lives API ----------------------------------------------------------------
def test_api_start_a_live_then_409_while_it_runs(app, client, site):
    created = client.post(
        "/api/v1/lives", json={"title": "API live", "visibility": "followers"}, headers=bearer(site["maker"])
    )
    assert created.status_code == 201
    body = created.get_json()
    assert (body["title"], body["status"], body["visibility"]) == ("API live", "live", "followers")
    assert body["host"]["username"] == "maker"
    assert body["watch_url"].endswith(f"/lives/{body['id']}")
    assert body["invite_token"]  # the host sees it
    with app.app_context():
        assert lives.get_live(body["id"]).is_live

    again = client.post("/api/v1/lives", json={"title": "Another"}, headers=bearer(site["maker"]))
    assert again.status_code == 409
    assert again.get_json()["error"]["message"] == "You are already live. End that live first."


def test_api_refuses_someone_who_may_not_go_live_with_the_reasons(app, client, site):
    refused = client.post("/api/v1/lives", json={"title": "Me too"}, headers=bearer(site["fan"]))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == (
        "Going live needs 1000 followers (you have 0) or live access granted by an admin."
    )
    read_only = client.post("/api/v1/lives", json={"title": "Me"}, headers=bearer(site["maker-read"]))
    assert read_only.status_code == 403
    assert "write" in read_only.get_json()["error"]["message"]
    assert client.post("/api/v1/lives", json={"title": "Me"}).status_code == 401
    with app.app_context():
        assert lives.current_lives() == []


def test_api_lists_the_lives_each_caller_may_watch(app, client, site):
    public_id = start(app, title="Open")
    with app.app_context():
        other = make_user("other", role=Role.CREATOR)
        hidden_id = lives.start_live(other, title="Friends", visibility="followers").id
        accounts.follow(accounts.get_by_username("fan"), other)
        ended = lives.start_live(make_user("gone", role=Role.CREATOR), title="Over")
        lives.end_live(ended, "host")

    def listed(headers=None):
        response = client.get("/api/v1/lives", headers=headers or {})
        assert response.status_code == 200
        return sorted(live["id"] for live in response.get_json())

    assert listed() == [public_id]
    assert listed(bearer(site["stranger"])) == [public_id]
    assert listed(bearer(site["fan"])) == sorted([public_id, hidden_id])


def test_api_one_live_with_its_playlist_url(app, client, site):
    live_id, feed_id = live_with_media(app, visibility="invite")
    with app.app_context():
        token = lives.get_live(live_id).invite_token
    assert client.get(f"/api/v1/lives/{live_id}").status_code == 403
    response = client.get(f"/api/v1/lives/{live_id}?invite={token}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["hls_url"] == f"http://localhost/lives/{live_id}/feeds/{feed_id}/index.m3u8?invite={token}"
    assert [feed["id"] for feed in body["feeds"]] == [feed_id]
    assert "invite_token" not in body  # only the host and admins get it
    assert client.get(f"/api/v1/lives/{live_id + 100}").status_code == 404
    # The URL the API gives plays.
    playlist = client.get(body["hls_url"].removeprefix("http://localhost"))
    assert playlist.status_code == 200 and "#EXTINF" in playlist.get_data(as_text=True)


def test_api_ending_a_live_host_yes_others_no(app, client, site):
    live_id, feed_id = live_with_media(app)
    refused = client.post(f"/api/v1/lives/{live_id}/end", headers=bearer(site["stranger"]))
    assert refused.status_code == 403
    with app.app_context():
        assert lives.get_live(live_id).is_live

    ended = client.post(f"/api/v1/lives/{live_id}/end", headers=bearer(site["maker"]))
    assert ended.status_code == 200
    body = ended.get_json()
    assert (body["status"], body["end_reason"]) == ("ended", "host") and body["ended_at"]
    playlist = client.get(media_urls(live_id, feed_id)["playlist"]).get_data(as_text=True)
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
    assert client.get("/api/v1/lives").get_json() == []


def test_api_an_admin_ends_someone_elses_live(app, client, site):
    live_id = start(app)
    ended = client.post(f"/api/v1/lives/{live_id}/end", headers=bearer(site["siteadmin"]))
    assert ended.status_code == 200
    assert ended.get_json()["end_reason"] == "admin"
    with app.app_context():
        assert lives.get_live(live_id).end_reason == "admin"


def test_api_stream_health_is_for_the_host(app, client, site):
    live_id = start(app)
    feed_id = publish_recording(app, live_id, seconds=3, finish=False)
    media = app.extensions["livelite.media"]
    try:
        response = client.get(f"/api/v1/lives/{live_id}/health", headers=bearer(site["maker"]))
        assert response.status_code == 200
        (figures,) = response.get_json()
        assert figures["feed_id"] == feed_id and figures["running"] is True
        assert figures["input_bitrate_kbps"] > 0
        assert client.get(f"/api/v1/lives/{live_id}/health", headers=bearer(site["fan"])).status_code == 403
        assert client.get(f"/api/v1/lives/{live_id}/health").status_code == 401
    finally:
        media.end_live(live_id, "host")
    after = client.get(f"/api/v1/lives/{live_id}/health", headers=bearer(site["maker"])).get_json()
    assert after == [{"feed_id": feed_id, "running": False}]


# -- stream keys --------------------------------------------------------------------
def test_api_stream_key_read_and_rotate(app, client, site):
    response = client.get("/api/v1/me/stream-key", headers=bearer(site["maker"]))
    assert response.status_code == 200
    with app.app_context():
        key = lives.stream_key(accounts.get_by_username("maker")).key
    assert response.get_json() == {"key": key, "server_url": "rtmp://localhost:1935/live"}
    assert client.get("/api/v1/me/stream-key", headers=bearer(site["maker-read"])).status_code == 403

    rotated = client.post("/api/v1/me/stream-key", headers=bearer(site["maker"]))
    assert rotated.status_code == 200
    new_key = rotated.get_json()["key"]
    assert new_key != key
    with app.app_context():
        assert lives.user_for_stream_key(key) is None
        assert lives.user_for_stream_key(new_key).username == "maker"
    assert client.get("/api/v1/me/stream-key", headers=bearer(site["maker"])).get_json()["key"] == new_key


def test_cli_stream_key_prints_and_rotates_the_key(app, runner, site):
    with app.app_context():
        key = lives.stream_key(accounts.get_by_username("maker")).key
    shown = runner.invoke(args=["stream-key", "maker"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == key

    rotated = runner.invoke(args=["stream-key", "maker", "--rotate"])
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.stdout.strip()
    assert new_key != key and new_key.startswith("live_")
    with app.app_context():
        assert lives.stream_key(accounts.get_by_username("maker")).key == new_key
    assert runner.invoke(args=["stream-key", "nobody"]).exit_code == 1


def test_the_stream_settings_page_shows_the_key_only_to_its_owner(app, client, site):
    with app.app_context():
        key = lives.stream_key(accounts.get_by_username("maker")).key
    page = login(app, "maker").get("/settings/stream").get_data(as_text=True)
    assert 'value="rtmp://localhost:1935/live"' in page
    assert re.search(rf'id="stream-key"[^>]*value="{re.escape(key)}"', page)

    other = login(app, "fan").get("/settings/stream")
    assert other.status_code == 200
    assert key not in other.get_data(as_text=True)
    assert "You cannot go live yet" in text_of(other.get_data(as_text=True))
    anonymous = client.get("/settings/stream")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert key not in anonymous.get_data(as_text=True)

"""The replay player over HTTP: the page, its VOD playlist and files, the thumbnail, the
side-by-side MP4, the chat and Q&A time line, and the live's own files once it is over.

Every replay here is real: the host's feed is filled by the app's ingest with ffmpeg,
chat messages and questions go through the room's services at set moments of the live
(a hand-moved clock), and ending the live through LiveMedia makes the replay (its
``live_ended`` listener). The recording's first segment is dated so that the replay's
time line starts when the live started: a message sent 1.5 s into the live is then
1.5 s into the replay, which is what the player's sync relies on.
"""

from __future__ import annotations

import os
from datetime import timedelta

import cv2
import numpy as np
import pytest
from factories import PASSWORD, make_admin, make_user
from media_support import clusters, decode_segment, playlist_uris, publish_recording, recording
from pages import submit, text_of
from room_chat_support import Clock

from livelite.extensions import db
from livelite.media import hls
from livelite.models import FeedSource, FileStatus, Live, Replay, Role, RoomSettings
from livelite.services import accounts, lives, moderation, replays
from livelite.services import chat as chat_service
from livelite.services import questions as questions_service
from livelite.services.settings import set_setting

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


@pytest.fixture
def site(app):
    """An admin, a host (maker) with a follower (fan), a stranger and a noisy viewer."""
    with app.app_context():
        make_admin()
        host = make_user("maker", display_name="Mia Maker", role=Role.CREATOR)
        accounts.follow(make_user("fan", display_name="Fay Fan"), host)
        make_user("stranger", display_name="Stan Stranger")
        make_user("noisy", display_name="Nora Noisy")
    yield
    app.extensions["livelite.media"].shutdown()


@pytest.fixture
def clock(monkeypatch):
    """The room services' clock, moved by hand to a moment of the live."""
    fake = Clock()
    for module in (chat_service, questions_service, moderation):
        monkeypatch.setattr(module, "utcnow", fake)
    return fake


def login(app, username: str):
    browser = app.test_client()
    response = submit(browser, "/login", {"login": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def browsers(app) -> dict:
    """A browser per person (None: a visitor)."""
    people = {name: login(app, name) for name in ("maker", "siteadmin", "fan", "stranger")}
    people[None] = app.test_client()
    return people


def user(name: str):
    return accounts.get_by_username(name)


def start(app, title="Night sketching", visibility="public") -> int:
    with app.app_context():
        return lives.start_live(user("maker"), title=title, visibility=visibility).id


def align_recording(app, live_id: int) -> None:
    """Date the feed's first segment so that its run starts when the live started."""
    with app.app_context():
        live = db.session.get(Live, live_id)
        for feed in live.feeds:
            folder = app.extensions["livelite.media"].feed_dir(feed)
            first = hls.feed_runs(folder)[0].segments[0]
            finished = live.started_at.timestamp() + first.duration
            os.utime(folder / first.uri, (finished, finished))


def at(clock: Clock, live_id: int, seconds: float) -> Live:
    """Move the room's clock to ``seconds`` into the live (in an app context)."""
    live = db.session.get(Live, live_id)
    clock.now = live.started_at + timedelta(seconds=seconds)
    return live


def end(app, live_id: int) -> int:
    """End the live as the host does; the listener makes the replay. Its id."""
    app.extensions["livelite.media"].end_live(live_id, "host")
    with app.app_context():
        replay = replays.replay_of_live(db.session.get(Live, live_id))
        assert replay is not None, "ending the live made no replay"
        return replay.id


def set_visibility(app, replay_id: int, visibility: str) -> None:
    with app.app_context():
        replays.update(db.session.get(Replay, replay_id), user("maker"), visibility=visibility)


def recorded_replay(app, visibility: str | None = None, seconds: int = 3, title="Night sketching") -> int:
    live_id = start(app, title=title)
    publish_recording(app, live_id, seconds=seconds)
    align_recording(app, live_id)
    replay_id = end(app, live_id)
    if visibility:
        set_visibility(app, replay_id, visibility)
    return replay_id


def feed_url(app, replay_id: int) -> str:
    with app.app_context():
        main = db.session.get(Replay, replay_id).main_feed
        return f"/replays/{replay_id}/feeds/{main.id}"


# -- the page -----------------------------------------------------------------------------
def test_a_private_replay_is_for_its_host_and_admins_only(app, site):
    replay_id = recorded_replay(app)
    people = browsers(app)
    for name in ("maker", "siteadmin"):
        response = people[name].get(f"/replays/{replay_id}")
        assert response.status_code == 200, name
        html = response.get_data(as_text=True)
        text = text_of(html)
        assert "Night sketching" in text and "Mia Maker" in text and "@maker" in text
        assert f'data-src="{feed_url(app, replay_id)}/index.m3u8"' in html
        assert f'poster="/replays/{replay_id}/thumb.jpg"' in html
        assert f'href="/settings/replays#replay-{replay_id}"' in html
        assert "Private" in text
    for name in ("fan", "stranger", None):
        response = people[name].get(f"/replays/{replay_id}")
        assert response.status_code == 404, name
        assert "Night sketching" not in response.get_data(as_text=True)


def test_who_sees_a_followers_or_public_replay_and_nobody_a_deleted_one(app, site):
    replay_id = recorded_replay(app, "followers")
    people = browsers(app)
    allowed = {name for name in people if people[name].get(f"/replays/{replay_id}").status_code == 200}
    assert allowed == {"maker", "siteadmin", "fan"}
    assert people["stranger"].get(f"/replays/{replay_id}").status_code == 404

    set_visibility(app, replay_id, "public")
    visitor = people[None].get(f"/replays/{replay_id}")
    assert visitor.status_code == 200
    html = visitor.get_data(as_text=True)
    assert "Night sketching" in text_of(html)
    # Only the host and admins are offered to manage it.
    assert "/settings/replays#replay-" not in html
    assert "/settings/replays#replay-" not in people["fan"].get(f"/replays/{replay_id}").get_data(
        as_text=True
    )

    with app.app_context():
        replays.delete(db.session.get(Replay, replay_id), user("maker"))
    for name in people:
        assert people[name].get(f"/replays/{replay_id}").status_code == 404, name
    assert people["maker"].get(f"/replays/{replay_id + 100}").status_code == 404


# -- the recording -------------------------------------------------------------------------
def test_the_playlist_is_vod_with_endlist_and_its_files_are_served(app, site, tmp_path):
    replay_id = recorded_replay(app, seconds=3)
    owner = login(app, "maker")
    base = feed_url(app, replay_id)

    response = owner.get(f"{base}/index.m3u8")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == PLAYLIST_TYPE
    assert response.headers["Cache-Control"].startswith("private")
    body = response.get_data(as_text=True)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in body
    assert body.rstrip().endswith("#EXT-X-ENDLIST")
    uris = playlist_uris(body)
    assert uris[0] == "run-0001-init.mp4" and len(uris) >= 4

    init = owner.get(f"{base}/{uris[0]}")
    assert init.status_code == 200 and init.mimetype == "video/mp4"
    segment = owner.get(f"{base}/{uris[1]}")
    assert segment.status_code == 200 and segment.mimetype == "video/iso.segment"
    assert segment.headers["Cache-Control"].startswith("private")
    frames, size = decode_segment(init.data, segment.data, tmp_path)
    assert frames > 0 and size == (320, 240)
    part = owner.get(f"{base}/{uris[1]}", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == segment.data[:100]

    # A public replay may be kept a little while by shared caches.
    set_visibility(app, replay_id, "public")
    visitor = app.test_client()
    assert visitor.get(f"{base}/index.m3u8").headers["Cache-Control"].startswith("public")
    assert visitor.get(f"{base}/{uris[-1]}").status_code == 200


def test_only_the_ingests_names_and_the_replays_own_feeds_are_served(app, site):
    public_id = recorded_replay(app, "public")
    private_id = recorded_replay(app, title="Second live")
    visitor = app.test_client()
    base = feed_url(app, public_id)
    assert visitor.get(f"{base}/run-0001-00000.m4s").status_code == 200
    for name in (
        "run-0001.m3u8",
        "ffmpeg.log",
        "run-0001-00000.m4s.tmp",
        "run-1-00000.m4s",
        "..%2F..%2Fsecret",
        "run-0001-init.mp4.bak",
    ):
        assert visitor.get(f"{base}/{name}").status_code == 404, name
    # The private replay's feed is not reachable under the public replay's address.
    other_feed = feed_url(app, private_id).rsplit("/", 1)[1]
    for name in ("index.m3u8", "run-0001-00000.m4s"):
        assert visitor.get(f"/replays/{public_id}/feeds/{other_feed}/{name}").status_code == 404
    # Nor under its own, for someone who may not watch it; the host gets it.
    owner = login(app, "maker")
    for url in (f"{feed_url(app, private_id)}/index.m3u8", f"{feed_url(app, private_id)}/run-0001-00000.m4s"):
        assert visitor.get(url).status_code == 404
        assert login(app, "stranger").get(url).status_code == 404
        assert owner.get(url).status_code == 200


def test_the_thumbnail_is_a_jpeg_of_the_recording_for_those_who_may_watch(app, site):
    replay_id = recorded_replay(app)
    owner = login(app, "maker")
    response = owner.get(f"/replays/{replay_id}/thumb.jpg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(response.data, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[1] == 320
    assert login(app, "stranger").get(f"/replays/{replay_id}/thumb.jpg").status_code == 404
    assert app.test_client().get(f"/replays/{replay_id}/thumb.jpg").status_code == 404
    # No composed MP4 for a live without guests.
    assert owner.get(f"/replays/{replay_id}/composed.mp4").status_code == 404


def test_behind_nginx_the_replays_files_are_handed_over_after_the_check(make_app):
    app = make_app(X_ACCEL_REDIRECT_PREFIX="/protected-media/")
    with app.app_context():
        make_admin()
        make_user("maker", role=Role.CREATOR)
    try:
        replay_id = recorded_replay(app)
        with app.app_context():
            main = db.session.get(Replay, replay_id).main_feed
            folder, feed_id = main.media_dir, main.id
        owner, visitor = login(app, "maker"), app.test_client()
        url = f"/replays/{replay_id}/feeds/{feed_id}/run-0001-00000.m4s"
        response = owner.get(url)
        assert response.status_code == 200 and response.data == b""
        assert response.headers["X-Accel-Redirect"] == f"/protected-media/{folder}/run-0001-00000.m4s"
        assert response.headers["Content-Type"] == "video/iso.segment"
        refused = visitor.get(url)
        assert refused.status_code == 404 and "X-Accel-Redirect" not in refused.headers
    finally:
        app.extensions["livelite.media"].shutdown()


def publish_as(app, live_id: int, username: str, seconds: int) -> int:
    """A guest's browser feed in the live, through the real ingest."""
    media = app.extensions["livelite.media"]
    with app.app_context():
        live = lives.get_live(live_id)
        feed = lives.open_feed(
            live, user(username), source=FeedSource.BROWSER, input_format="webm", video_codec="h264"
        )
        media.start_ingest(feed)
        feed_id = feed.id
    for chunk in clusters(recording("h264", seconds=seconds)):
        media.write(feed_id, chunk)
    media.finish_feed(feed_id)
    return feed_id


def test_a_live_with_a_guest_offers_each_feed_and_the_side_by_side_mp4(app, site):
    live_id = start(app, title="Duo")
    publish_recording(app, live_id, seconds=3)
    publish_as(app, live_id, "fan", seconds=2)
    align_recording(app, live_id)
    replay_id = end(app, live_id)
    set_visibility(app, replay_id, "public")
    visitor = app.test_client()
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        feeds = {feed.user.username: feed.id for feed in replay.feeds}
        assert replay.composed_status == FileStatus.PENDING
    html = visitor.get(f"/replays/{replay_id}").get_data(as_text=True)
    for username in ("maker", "fan"):
        assert f'data-src="/replays/{replay_id}/feeds/{feeds[username]}/index.m3u8"' in html
    assert "Fay Fan" in text_of(html)
    assert visitor.get(f"/replays/{replay_id}/composed.mp4").status_code == 404
    guest_playlist = visitor.get(f"/replays/{replay_id}/feeds/{feeds['fan']}/index.m3u8").get_data(
        as_text=True
    )
    assert guest_playlist.rstrip().endswith("#EXT-X-ENDLIST")

    with app.app_context():
        replays.make_pending()
        assert db.session.get(Replay, replay_id).composed_status == FileStatus.READY
    html = visitor.get(f"/replays/{replay_id}").get_data(as_text=True)
    assert f'data-src="/replays/{replay_id}/composed.mp4"' in html
    whole = visitor.get(f"/replays/{replay_id}/composed.mp4")
    assert whole.status_code == 200 and whole.mimetype == "video/mp4"
    part = visitor.get(f"/replays/{replay_id}/composed.mp4", headers={"Range": "bytes=0-1023"})
    assert part.status_code == 206 and part.data == whole.data[:1024]
    set_visibility(app, replay_id, "private")
    assert visitor.get(f"/replays/{replay_id}/composed.mp4").status_code == 404


# -- the chat and questions on the time line ---------------------------------------------------
def test_the_time_line_puts_the_chat_and_questions_where_they_happened(app, site, clock):
    live_id = start(app)
    publish_recording(app, live_id, seconds=4)
    align_recording(app, live_id)
    with app.app_context():
        db.session.add(RoomSettings(live_id=live_id, anonymous_questions=True))
        db.session.commit()
        set_setting("QUESTION_INTERVAL_SECONDS", 0)
        live = at(clock, live_id, 0.5)
        chat_service.send_message(live, user("stranger"), "First!")
        live = at(clock, live_id, 1.0)
        chat_service.send_message(live, user("fan"), "<img src=x onerror=alert(1)>")
        live = at(clock, live_id, 1.2)
        noisy = chat_service.send_message(live, user("noisy"), "buy followers here")
        live = at(clock, live_id, 1.4)
        doomed = chat_service.send_message(live, user("stranger"), "something rude")
        live = at(clock, live_id, 1.5)
        camera = questions_service.ask(live, user("stranger"), "Which camera is this?").id
        live = at(clock, live_id, 1.8)
        secret = questions_service.ask(live, user("fan"), "Can I ask anonymously?", anonymous=True).id
        live = at(clock, live_id, 2.0)
        questions_service.answer(live, user("maker"), camera)
        live = at(clock, live_id, 2.2)
        moderation.delete_message(live, user("maker"), doomed["id"])
        moderation.mute(live, user("maker"), user("noisy").id, "live")
        live = at(clock, live_id, 2.6)
        chat_service.send_message(live, user("maker"), "Good question")
        live = at(clock, live_id, 3.0)
        questions_service.answer(live, user("maker"), secret)
        live = at(clock, live_id, 3.1)
        dropped = questions_service.ask(live, user("stranger"), "Off topic?").id
        questions_service.dismiss(live, user("maker"), dropped)
        live = at(clock, live_id, 3.5)
        unanswered = questions_service.ask(live, user("stranger"), "Still there?").id
        live = at(clock, live_id, 30.0)  # after the recording ends
        chat_service.send_message(live, user("fan"), "Bye")
    replay_id = end(app, live_id)
    set_visibility(app, replay_id, "public")

    response = app.test_client().get(f"/replays/{replay_id}/timeline.json")
    assert response.status_code == 200
    data = response.get_json()
    with app.app_context():
        duration_ms = int(db.session.get(Replay, replay_id).duration_s * 1000)
    assert data["duration_ms"] == duration_ms and 3500 <= duration_ms <= 4500

    bodies = [m["body"] for m in data["chat"]]
    assert bodies == ["First!", "<img src=x onerror=alert(1)>", "Good question", "Bye"]
    assert noisy["id"] not in [m["id"] for m in data["chat"]]
    times = [m["t"] for m in data["chat"]]
    assert times == sorted(times)
    for expected, got in zip([500, 1000, 2600], times[:3], strict=True):
        assert abs(got - expected) <= 20, (expected, got)
    assert times[-1] == duration_ms  # said after the recording: at its end
    assert all(0 <= t <= duration_ms for t in times)
    assert data["chat"][0]["user"]["username"] == "stranger" and data["chat"][2]["role"] == "host"

    by_id = {q["id"]: q for q in data["questions"]}
    assert list(by_id) == [camera, secret, unanswered]  # the dismissed one is left out
    assert by_id[secret]["author"] is None
    assert by_id[camera]["author"]["username"] == "stranger"
    assert abs(by_id[camera]["t"] - 1500) <= 20 and abs(by_id[camera]["answered_t"] - 2000) <= 20
    assert by_id[unanswered]["status"] == "open" and by_id[unanswered]["answered_t"] is None
    assert [c["question_id"] for c in data["chapters"]] == [camera, secret]
    assert [c["title"] for c in data["chapters"]] == ["Which camera is this?", "Can I ask anonymously?"]
    assert abs(data["chapters"][1]["t"] - 3000) <= 20

    # The same permission as the page.
    set_visibility(app, replay_id, "private")
    assert app.test_client().get(f"/replays/{replay_id}/timeline.json").status_code == 404
    assert login(app, "stranger").get(f"/replays/{replay_id}/timeline.json").status_code == 404
    assert login(app, "maker").get(f"/replays/{replay_id}/timeline.json").status_code == 200


# -- the live's own files once it is over ---------------------------------------------------
def move_end_back(app, live_id: int, seconds: float) -> None:
    with app.app_context():
        live = db.session.get(Live, live_id)
        live.ended_at -= timedelta(seconds=seconds)
        db.session.commit()


def test_after_a_grace_the_lives_files_follow_the_replays_permission(app, site):
    live_id = start(app)
    feed_id = publish_recording(app, live_id, seconds=3)
    urls = [
        f"/lives/{live_id}/feeds/{feed_id}/index.m3u8",
        f"/lives/{live_id}/feeds/{feed_id}/run-0001-00000.m4s",
    ]
    stranger, visitor, owner = login(app, "stranger"), app.test_client(), login(app, "maker")
    replay_id = end(app, live_id)  # the replay is private

    # Right after the end, whoever was watching the (public) live gets its last seconds.
    for url in urls:
        assert visitor.get(url).status_code == 200, url
        assert stranger.get(url).status_code == 200, url
    move_end_back(app, live_id, 121)
    for url in urls:
        assert visitor.get(url).status_code == 404, url
        assert stranger.get(url).status_code == 404, url
        assert owner.get(url).status_code == 200, url
    assert login(app, "siteadmin").get(urls[0]).status_code == 200

    set_visibility(app, replay_id, "followers")
    assert login(app, "fan").get(urls[1]).status_code == 200
    assert stranger.get(urls[1]).status_code == 404
    set_visibility(app, replay_id, "public")
    assert visitor.get(urls[0]).status_code == 200

    with app.app_context():
        replays.delete(db.session.get(Replay, replay_id), user("maker"))
    for url in urls:
        assert owner.get(url).status_code == 404, url


def test_the_grace_is_only_for_those_who_could_watch_the_live(app, site):
    live_id = start(app, visibility="followers")
    feed_id = publish_recording(app, live_id, seconds=3)
    url = f"/lives/{live_id}/feeds/{feed_id}/index.m3u8"
    end(app, live_id)
    assert login(app, "fan").get(url).status_code == 200
    assert login(app, "stranger").get(url).status_code in (403, 404)
    assert app.test_client().get(url).status_code in (403, 404)


def test_the_ended_live_page_links_to_the_replay_for_those_who_may_watch_it(app, site):
    live_id = start(app, title="Evening")
    publish_recording(app, live_id, seconds=3)
    replay_id = end(app, live_id)
    link = f'href="/replays/{replay_id}"'
    owner_page = login(app, "maker").get(f"/lives/{live_id}").get_data(as_text=True)
    assert link in owner_page and "Watch the replay" in text_of(owner_page)
    stranger = login(app, "stranger")
    stranger_page = stranger.get(f"/lives/{live_id}").get_data(as_text=True)
    assert "This live has ended" in text_of(stranger_page)
    assert link not in stranger_page and "Watch the replay" not in text_of(stranger_page)
    # Its player still loads the last seconds just after the end; later, it has nothing
    # to load for someone who may not watch the replay (the files would answer 404).
    playlist = f'data-src="/lives/{live_id}/feeds/'
    assert playlist in stranger_page
    move_end_back(app, live_id, 121)
    assert playlist not in stranger.get(f"/lives/{live_id}").get_data(as_text=True)
    assert playlist in login(app, "maker").get(f"/lives/{live_id}").get_data(as_text=True)
    set_visibility(app, replay_id, "public")
    public_page = app.test_client().get(f"/lives/{live_id}").get_data(as_text=True)
    assert link in public_page and playlist in public_page

"""Replays (services.replays) from the end of a live to the files people download.

Real ffmpeg and SQLite throughout: a live's feeds are filled by the real ingest with
recordings paced like a browser's MediaRecorder (one chunk a second), the live is ended
through the media manager (whose ``live_ended`` listener makes the replay), and the MP4s
are made with ``make_pending`` as the background queue would. What is checked is what a
person gets: files that decode for as long as the live lasted, figures that match the
disk, and rules (who sees, how long it is kept, how much it may take) that hold.
"""

from __future__ import annotations

import io
import time
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from factories import make_admin, make_user
from media_support import FPS, HEIGHT, WIDTH, clusters, recording
from sqlalchemy import func, select
from video_media import clip, decoded, ffmpeg_info, stream_lines, top_level_boxes

from livelite.extensions import db, socketio
from livelite.media import hls
from livelite.models import (
    FeedSource,
    FileStatus,
    Live,
    Notification,
    Replay,
    ReplayFeed,
    ReplayVisibility,
    Role,
    Video,
    VideoStatus,
)
from livelite.services import accounts, guests, lives, notifications, replays, videos
from livelite.services.errors import Conflict, NotFound, PermissionDenied
from livelite.services.settings import set_setting


@pytest.fixture
def site(app):
    """maker (a creator who goes live), gina (a creator who joins on stage), fan (follows
    maker), stranger, and the admin."""
    with app.app_context():
        make_admin()
        maker = make_user("maker", role=Role.CREATOR, display_name="Maker")
        make_user("gina", role=Role.CREATOR, display_name="Gina")
        accounts.follow(make_user("fan", display_name="Fan"), maker)
        make_user("stranger", display_name="Stranger")
    yield app
    app.extensions["livelite.media"].shutdown()


# -- helpers -------------------------------------------------------------------------
def media_of(app):
    return app.extensions["livelite.media"]


def person(username: str):
    return accounts.get_by_username(username)


def start(app, username: str = "maker", title: str = "Fractions") -> int:
    with app.app_context():
        return lives.start_live(person(username), title=title).id


def open_feed(app, live_id: int, username: str) -> int:
    """The person's browser feed in the live, with its ingest running (as publishing.start)."""
    with app.app_context():
        live = lives.get_live(live_id)
        feed = lives.open_feed(
            live, person(username), source=FeedSource.BROWSER, input_format="webm", video_codec="h264"
        )
        media_of(app).start_ingest(feed)
        return feed.id


def publish(app, plan: list[tuple[int, int, int]]) -> None:
    """Send recordings as MediaRecorder does: ``plan`` is (feed id, seconds, first second);
    a feed's chunk n (media n…n+1 s) is written at first + n + 1 s, so the wall clock and
    the media agree as they do in a real live."""
    started = time.monotonic()
    writes = []
    for feed_id, seconds, first in plan:
        for index, chunk in enumerate(clusters(recording("h264", seconds=seconds))):
            writes.append((first + index + 1, feed_id, chunk))
    for at, feed_id, chunk in sorted(writes, key=lambda w: w[0]):
        delay = started + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        media_of(app).write(feed_id, chunk)


def publish_fast(app, live_id: int, username: str = "maker", seconds: int = 2) -> int:
    """A feed recorded without pacing (when only the files matter, not the clock)."""
    feed_id = open_feed(app, live_id, username)
    for chunk in clusters(recording("h264", seconds=seconds)):
        media_of(app).write(feed_id, chunk)
    return feed_id


def end(app, live_id: int, reason: str = "host") -> None:
    """The host ends the live: the media manager finishes ffmpeg, then the replay is made."""
    media_of(app).end_live(live_id, reason)


def recorded_replay(app, seconds: int = 2, username: str = "maker", *, mp4: bool = True) -> int:
    """A live that recorded ``seconds``, ended, with its replay (and its MP4s made)."""
    live_id = start(app, username)
    publish_fast(app, live_id, username, seconds)
    end(app, live_id)
    with app.app_context():
        replay = replays.replay_of_live(lives.get_live(live_id))
        assert replay is not None, "the end of the live made no replay"
        if mp4:
            replays.make_pending()
        return replay.id


def root(app) -> Path:
    return Path(app.config["MEDIA_ROOT"])


def stored(app, relative: str) -> Path:
    return root(app) / relative


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def bytes_under(*folders: Path) -> int:
    return sum(p.stat().st_size for folder in folders for p in files_under(folder))


def replay_folders(app, replay: Replay) -> list[Path]:
    """Every folder whose files belong to the replay: the feeds' HLS and its own."""
    return [stored(app, f.media_dir) for f in replay.feeds] + [stored(app, replay.files_dir)]


def notes_of(username: str, kind: str) -> list[Notification]:
    user = person(username)
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        )
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def mp4_duration(path: Path) -> float:
    frames, duration, _w, _h = decoded(path)
    assert frames > 0, f"{path.name} decodes to nothing"
    return duration


def frames_of(path: Path, seconds: list[float] | None = None) -> list[np.ndarray]:
    """Decoded frames (as int16, ready to subtract): every one, or only those at
    ``seconds`` (by the file's frame rate; a 720p video is 2.7 MB a frame)."""
    capture = cv2.VideoCapture(str(path))
    rate = capture.get(cv2.CAP_PROP_FPS)
    wanted = None if seconds is None else [round(at * rate) for at in seconds]
    kept: dict[int, np.ndarray] = {}
    try:
        index = 0
        while wanted is None or index <= max(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            if wanted is None or index in wanted:
                kept[index] = frame.astype(np.int16)
            index += 1
    finally:
        capture.release()
    if wanted is None:
        return list(kept.values())
    assert all(i in kept for i in wanted), f"{path.name} has fewer frames than asked"
    return [kept[i] for i in wanted]


# -- from the end of a live to the MP4 --------------------------------------------------
def test_the_end_of_a_live_makes_a_private_replay_whose_mp4_lasts_as_long_as_the_live(site, client, auth):
    app = site
    auth.login("maker")
    owner_pages = socketio.test_client(app, namespace="/me", flask_test_client=client)
    assert owner_pages.is_connected("/me")
    owner_pages.get_received("/me")
    live_id = start(app)
    feed_id = open_feed(app, live_id, "maker")
    publish(app, [(feed_id, 5, 0)])
    end(app, live_id)

    with app.app_context():
        live = lives.get_live(live_id)
        live_seconds = (live.ended_at - live.started_at).total_seconds()
        assert 5 <= live_seconds < 6.5
        replay = replays.replay_of_live(live)
        assert replay is not None
        assert (replay.owner_id, replay.title) == (live.host_id, "Fractions")
        assert replay.visibility == ReplayVisibility.PRIVATE
        assert replay.created_at == live.ended_at
        assert abs(replay.duration_s - live_seconds) <= 1
        (feed,) = replay.feeds
        assert feed.is_main and feed.feed_id == feed_id and feed.offset_s == 0
        assert feed.mp4_status == FileStatus.PENDING and replay.composed_status == FileStatus.NONE
        # Watchable at once: the recording is the replay's VOD playlist.
        playlist = hls.compose(stored(app, feed.media_dir), ended=True)
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist and playlist.count("#EXTINF") == 5
        # The owner is told once, even if something asks for the replay again.
        assert replays.create_for_live(live_id).id == replay.id
        (ready,) = notes_of("maker", "replay_ready")
        assert "Fractions" in notifications.describe(ready)
        assert notes_of("fan", "replay_ready") == []

        assert replays.make_pending() == 1
        db.session.expire_all()
        replay = db.session.get(Replay, replay.id)
        feed = replay.main_feed
        assert (feed.mp4_status, feed.mp4_progress, feed.mp4_error) == (FileStatus.READY, 100, None)
        mp4 = stored(app, feed.mp4_path)
        assert mp4.parent == stored(app, replay.files_dir)
        # Every byte the replay keeps is counted: HLS, MP4, thumbnail.
        assert replay.size_bytes == bytes_under(*replay_folders(app, replay))
        assert feed.mp4_size == mp4.stat().st_size
        thumb = stored(app, replay.thumbnail_path).read_bytes()
        replay_seconds = replay.duration_s
        assert replays.make_pending() == 0  # nothing left to make

    frames, seconds, width, height = decoded(mp4)
    assert (width, height) == (WIDTH, HEIGHT)
    assert frames == pytest.approx(5 * FPS, abs=2)
    assert abs(seconds - live_seconds) <= 1 and abs(seconds - replay_seconds) <= 0.2
    boxes = top_level_boxes(mp4.read_bytes())
    assert boxes.index("moov") < boxes.index("mdat")  # downloads start playing at once
    streams = stream_lines(ffmpeg_info(mp4))
    assert streams["Video"].startswith("h264") and streams["Audio"].startswith("aac")
    picture = cv2.imdecode(np.frombuffer(thumb, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[1] == WIDTH and picture.std() > 10

    progress = [m["args"][0] for m in owner_pages.get_received("/me") if m["name"] == "replay_progress"]
    assert progress, "the owner's pages heard nothing while the MP4 was made"
    assert {p["id"] for p in progress} == {replay.id}
    statuses = [p["feeds"][0]["status"] for p in progress]
    assert statuses[0] == "processing" and statuses[-1] == "ready"
    assert progress[-1]["feeds"][0]["progress"] == 100 and progress[-1]["size_bytes"] == replay.size_bytes
    owner_pages.disconnect("/me")


def test_a_live_with_a_guest_gets_a_feed_each_and_a_side_by_side_mp4(site):
    app = site
    live_id = start(app)
    with app.app_context():
        live = lives.get_live(live_id)
        guests.invite(live, person("maker"), person("gina").id)
        guests.accept(live, person("gina"), person("gina").id)
    host_feed = open_feed(app, live_id, "maker")
    guest_feed = open_feed(app, live_id, "gina")
    # The guest comes on two seconds after the host and leaves before the end.
    publish(app, [(host_feed, 6, 0), (guest_feed, 3, 2)])
    end(app, live_id)

    with app.app_context():
        replay = replays.replay_of_live(lives.get_live(live_id))
        host, guest = sorted(replay.feeds, key=lambda f: not f.is_main)
        assert (host.feed_id, host.is_main, host.offset_s) == (host_feed, True, 0)
        assert (guest.feed_id, guest.is_main, guest.user_id) == (guest_feed, False, person("gina").id)
        assert guest.offset_s == pytest.approx(2, abs=0.5)
        assert host.duration_s == pytest.approx(6, abs=0.1) and guest.duration_s == pytest.approx(3, abs=0.1)
        assert replay.duration_s == host.duration_s
        assert replay.composed_status == FileStatus.PENDING
        assert replays.make_pending() == 3  # two remuxes, then the composition
        db.session.expire_all()
        replay = db.session.get(Replay, replay.id)
        assert [f.mp4_status for f in replay.feeds] == [FileStatus.READY] * 2
        assert (replay.composed_status, replay.composed_progress) == (FileStatus.READY, 100)
        composed = stored(app, replay.composed_path)
        guest_mp4 = stored(app, guest.mp4_path)
        assert replay.size_bytes == bytes_under(*replay_folders(app, replay))
        assert replay.composed_size == composed.stat().st_size
        host_seconds = replay.duration_s

    _frames, seconds, width, height = decoded(composed)
    assert (width, height) == (1280, 720)
    assert abs(seconds - host_seconds) <= 0.5
    assert "Audio" in stream_lines(ffmpeg_info(composed))
    # The guest's tile (right of the host) shows the guest only while they were on.
    before, during, after = frames_of(composed, [1.0, 3.5, 5.6])

    def guest_tile(frame: np.ndarray) -> np.ndarray:
        return frame[300:420, 1020:1220]

    assert guest_tile(before).mean() < 10 and guest_tile(after).mean() < 10
    assert guest_tile(during).std() > 20  # the guest's picture
    assert before[200:520, 100:860].std() > 20  # the host is there all along
    assert mp4_duration(guest_mp4) == pytest.approx(3, abs=0.3)


# -- once, and only once ----------------------------------------------------------------
def test_a_replay_is_made_once_and_a_deleted_one_is_not_made_again(site):
    app = site
    replay_id = recorded_replay(app, mp4=False)
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        live_id = replay.live_id
        # The listener made it; the sweep at start and a second call find it.
        assert replays.sweep() == 0
        assert replays.create_for_live(live_id).id == replay_id
        assert (count(Replay), count(ReplayFeed)) == (1, 1)
        assert len(notes_of("maker", "replay_ready")) == 1

        replays.delete(replay, person("maker"))
        assert replays.replay_of_live(lives.get_live(live_id)) is None
        assert replays.sweep() == 0
        again = replays.create_for_live(live_id)
        assert again.id == replay_id and again.is_deleted  # the tombstone, not a new replay
        assert count(Replay) == 1
        with pytest.raises(NotFound):
            replays.get_visible(replay_id, person("maker"))


def test_a_crash_before_the_replay_is_made_is_caught_up_by_the_sweep(site, monkeypatch):
    app = site
    live_id = start(app)
    publish_fast(app, live_id)
    with monkeypatch.context() as patched:
        # The process dies between the end of the live and its replay.
        patched.setattr(replays, "create_for_live", lambda _live_id: None)
        end(app, live_id)
    with app.app_context():
        assert replays.replay_of_live(lives.get_live(live_id)) is None
        assert replays.sweep() == 1
        replay = replays.replay_of_live(lives.get_live(live_id))
        assert replay is not None and replay.duration_s == pytest.approx(2, abs=0.1)
        assert replays.sweep() == 0 and count(Replay) == 1


def test_lives_that_recorded_nothing_do_not_hide_a_crash_from_the_sweep(site, monkeypatch):
    """Lives that ended with nothing recorded never get a replay, so every sweep sees
    them again: a small sweep must still reach the newer live a crash left behind."""
    app = site
    for title in ("Never started", "Camera refused"):
        empty = start(app, title=title)
        open_feed(app, empty, "maker")  # a feed, but the page never sent a byte
        end(app, empty)
    live_id = start(app)
    publish_fast(app, live_id)
    with monkeypatch.context() as patched:
        patched.setattr(replays, "create_for_live", lambda _live_id: None)
        end(app, live_id)
    with app.app_context():
        assert replays.sweep(limit=1) == 1
        assert replays.replay_of_live(lives.get_live(live_id)) is not None
        assert count(Replay) == 1


def test_two_makers_racing_for_one_live_leave_one_replay_and_no_stray_files(site, monkeypatch):
    """The listener and a sweep (or two processes) both making the replay: the unique
    index picks one; the other's thumbnail and folder are removed."""
    app = site
    live_id = start(app)
    publish_fast(app, live_id)
    thumbnail = replays.replay_media.thumbnail
    raced, winners = [], []

    def racing_thumbnail(folder):
        if not raced:  # while this one makes its thumbnail, another finishes first
            raced.append(True)
            with app.app_context():  # a session of its own, as another process would have
                winners.append(replays.create_for_live(live_id).id)
        return thumbnail(folder)

    monkeypatch.setattr(replays.replay_media, "thumbnail", racing_thumbnail)
    end(app, live_id)
    with app.app_context():
        replay = replays.replay_of_live(lives.get_live(live_id))
        assert replay is not None and [replay.id] == winners
        assert (count(Replay), count(ReplayFeed)) == (1, 1)
        assert len(notes_of("maker", "replay_ready")) == 1
        assert sorted(p.name for p in stored(app, "replays").iterdir()) == [replay.files_dir.split("/")[1]]
        assert stored(app, replay.thumbnail_path).is_file()


def test_a_live_that_recorded_nothing_gets_no_replay(site):
    app = site
    live_id = start(app)
    open_feed(app, live_id, "maker")  # the page opened its feed but no chunk ever came
    end(app, live_id)
    with app.app_context():
        assert replays.create_for_live(live_id) is None
        assert replays.sweep() == 0
        assert count(Replay) == 0 and notes_of("maker", "replay_ready") == []
        # And a live still going has none yet.
        other = start(app, "gina")
        assert replays.create_for_live(other) is None


# -- who may watch ------------------------------------------------------------------------
VIEWERS = ("anonymous", "stranger", "fan", "maker", "siteadmin")
SEES = {
    # visibility: who sees it (the owner and admins always)
    ReplayVisibility.PRIVATE: {"maker", "siteadmin"},
    ReplayVisibility.FOLLOWERS: {"fan", "maker", "siteadmin"},
    ReplayVisibility.PUBLIC: {"anonymous", "stranger", "fan", "maker", "siteadmin"},
}


def test_who_may_watch_a_replay_by_visibility_ban_and_deletion(site):
    app = site
    replay_id = recorded_replay(app, mp4=False)
    with app.app_context():
        viewers = {name: (None if name == "anonymous" else person(name)) for name in VIEWERS}
        maker = viewers["maker"]

        def seen_by(replay) -> set[str]:
            seen = {name for name, viewer in viewers.items() if replays.can_view(replay, viewer)}
            for name, viewer in viewers.items():
                if name in seen:
                    assert replays.get_visible(replay_id, viewer).id == replay_id
                else:
                    with pytest.raises(NotFound):  # never says it exists
                        replays.get_visible(replay_id, viewer)
            return seen

        replay = db.session.get(Replay, replay_id)
        for visibility, expected in SEES.items():
            replays.update(replay, maker, visibility=visibility.value)
            assert seen_by(replay) == expected, visibility
            # Managing is the owner's and admins' only, whatever the visibility.
            managers = {n for n, v in viewers.items() if replays.can_manage(replay, v)}
            assert managers == {"maker", "siteadmin"}
        with pytest.raises(PermissionDenied):
            replays.get_managed(replay_id, viewers["fan"])  # sees the public replay, may not change it
        with pytest.raises(PermissionDenied):
            replays.update(replay, viewers["fan"], title="Mine now")

        # A banned owner's replays: admins only, whatever the visibility.
        accounts.set_banned(maker, True)
        for visibility in ReplayVisibility:
            replay.visibility = visibility
            db.session.commit()
            assert seen_by(replay) == {"siteadmin"}, visibility
        accounts.set_banned(maker, False)

        replays.delete(replay, viewers["siteadmin"])
        assert replay.deleted_reason == "admin"
        for visibility in ReplayVisibility:
            replay.visibility = visibility
            db.session.commit()
            assert seen_by(replay) == set(), visibility


# -- retention ----------------------------------------------------------------------------
def move_back(replay_id: int, days: float) -> None:
    """The replay (and its live) happened ``days`` ago."""
    replay = db.session.get(Replay, replay_id)
    replay.created_at = replays.utcnow() - timedelta(days=days)
    db.session.commit()


def test_retention_warns_once_then_deletes_every_file_and_keeps_posted_videos(site):
    app = site
    replay_id = recorded_replay(app, seconds=3)
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        video = replays.post_to_feed(replay, person("maker"), title="Kept", caption="From the live")
        videos.process(video.id)
        video_id = video.id
        folders = replay_folders(app, replay)
        thumb = stored(app, replay.thumbnail_path)
        mp4 = stored(app, replay.main_feed.mp4_path)
        assert all(files_under(folder) for folder in folders) and thumb.is_file() and mp4.is_file()

        move_back(replay_id, 90 - 7 - 0.01)  # not yet in the warning window
        assert replays.expire() == (0, 0)
        move_back(replay_id, 90 - 7 + 0.01)
        assert replays.expire() == (1, 0)
        assert replays.expire() == (0, 0)  # warned once, not every pass
        (warning,) = notes_of("maker", "replay_expiring")
        replay = db.session.get(Replay, replay_id)
        expires = replays.expires_at(replay)
        assert expires == replay.created_at + timedelta(days=90)
        assert "Fractions" in notifications.describe(warning)
        assert str(expires.year) in notifications.describe(warning)
        assert all(files_under(folder) for folder in folders)

        move_back(replay_id, 90 + 0.01)
        assert replays.expire() == (0, 1)
        replay = db.session.get(Replay, replay_id)
        assert replay.is_deleted and replay.deleted_reason == "expired" and replay.size_bytes == 0
        assert count(Replay) == 1  # the tombstone stays
        for folder in folders:
            assert not folder.exists(), f"{folder} outlived the replay"
        assert not thumb.exists() and not mp4.exists()
        assert not stored(app, f"lives/{replay.live_id}").exists()
        assert replays.expire() == (0, 0) and replays.sweep() == 0
        assert len(notes_of("maker", "replay_expiring")) == 1

        # The video posted from it is its own copy: still ready, still playable.
        video = db.session.get(Video, video_id)
        assert video.status == VideoStatus.READY and video.replay_id == replay_id
        posted = stored(app, video.file_path)
    assert mp4_duration(posted) == pytest.approx(3, abs=0.5)


def test_retention_zero_keeps_replays_until_their_owner_deletes_them(site):
    app = site
    replay_id = recorded_replay(app, mp4=False)
    with app.app_context():
        set_setting("REPLAY_RETENTION_DAYS", 0)
        move_back(replay_id, 3650)
        replay = db.session.get(Replay, replay_id)
        assert replays.expires_at(replay) is None
        assert replays.expire() == (0, 0)
        replay = db.session.get(Replay, replay_id)
        assert not replay.is_deleted and all(files_under(f) for f in replay_folders(app, replay))
        assert notes_of("maker", "replay_expiring") == []


# -- storage --------------------------------------------------------------------------------
def media_files(app) -> set[Path]:
    return set(files_under(root(app)))


def test_storage_counts_replays_and_videos_and_a_full_quota_stops_lives_and_uploads(site):
    app = site
    replay_id = recorded_replay(app, seconds=6)
    with app.app_context():
        maker = person("maker")
        video = videos.upload(maker, io.BytesIO(clip(2)), caption="Hello")
        video = videos.process(video.id)
        replay = db.session.get(Replay, replay_id)
        replay_disk = bytes_under(*replay_folders(app, replay))
        used = replays.usage(maker)
        assert used.replays_bytes == replay_disk == replay.size_bytes
        assert used.videos_bytes == video.size_bytes == stored(app, video.file_path).stat().st_size
        assert used.total_bytes == replay_disk + video.size_bytes
        assert used.quota_bytes == 20480 * 1024 * 1024 and not used.over
        assert replays.usage(person("gina")).total_bytes == 0
        figures = replays.site_storage()
        assert (figures["replays"], figures["replays_bytes"]) == (1, replay_disk)
        assert figures["videos_bytes"] == video.size_bytes
        assert [(p.user.username, p.total_bytes) for p in figures["people"]] == [("maker", used.total_bytes)]

        # One megabyte: less than the replay and the video take.
        set_setting("STORAGE_QUOTA_MB", 1)
        assert replay_disk > 1024 * 1024 > video.size_bytes
        used = replays.usage(maker)
        assert used.over and used.percent == 100
        lives_before, videos_before, files_before = count(Live), count(Video), media_files(app)
        with pytest.raises(Conflict) as refused_live:
            lives.start_live(maker, title="Again")
        assert "use all of your 1 MB of storage" in refused_live.value.message
        with pytest.raises(Conflict) as refused_upload:
            videos.upload(maker, io.BytesIO(clip(2)), caption="More")
        assert refused_upload.value.message == refused_live.value.message
        with pytest.raises(Conflict):
            replays.post_to_feed(replay, maker, title="Too much")
        assert (count(Live), count(Video), media_files(app)) == (lives_before, videos_before, files_before)
        # Someone else's quota is their own.
        assert lives.start_live(person("gina"), title="Gina's").is_live

        # Deleting the replay frees its space at once.
        replays.delete(replay, maker)
        used = replays.usage(maker)
        assert used.replays_bytes == 0 and used.total_bytes == video.size_bytes and not used.over
        assert replays.site_storage()["replays_bytes"] == 0
        assert lives.start_live(maker, title="Again").is_live


# -- posting to the feed ------------------------------------------------------------------
def test_a_trimmed_part_of_a_replay_posted_to_the_feed_outlives_the_replay(site):
    app = site
    replay_id = recorded_replay(app, seconds=6)
    with app.app_context():
        replay = db.session.get(Replay, replay_id)
        with pytest.raises(PermissionDenied):  # an admin manages it but does not post for the host
            replays.post_to_feed(replay, person("siteadmin"), trim_start=1)
        video = replays.post_to_feed(
            replay,
            person("maker"),
            title="The best part",
            caption="From my live",
            trim_start="0:01.5",
            trim_end=4.5,
        )
        assert (video.status, video.replay_id, video.title) == (
            VideoStatus.PROCESSING,
            replay_id,
            "The best part",
        )
        assert (video.trim_start_s, video.trim_end_s, video.duration_s) == (1.5, 4.5, 3.0)
        video = videos.process(video.id)
        assert video.status == VideoStatus.READY, video.error
        posted = stored(app, video.file_path)
        source = stored(app, replay.main_feed.mp4_path)
        assert source.is_file()  # the conversion read the replay's MP4, it did not take it
        recorded = frames_of(source)
        replays.delete(replay, person("maker"))
        assert not source.exists()
        video = db.session.get(Video, video.id)
        assert video.status == VideoStatus.READY and videos.can_view(video, None)
        assert abs(video.duration_s - 3.0) <= 0.5

    assert posted.is_file()
    assert mp4_duration(posted) == pytest.approx(3.0, abs=0.5)
    # It starts where it was asked to: its first picture is the replay's at 1.5 s.
    (first,) = frames_of(posted, [0])
    differences = [np.abs(frame - first).mean() for frame in recorded]
    assert int(np.argmin(differences)) == pytest.approx(1.5 * FPS, abs=1)

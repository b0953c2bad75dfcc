"""Replays survive what goes wrong during a live: the server killed with SIGKILL, the
feed's ffmpeg killed, a full disk (issue 7, crash safety).

The SIGKILL test runs a real ``python app.py`` (tests/e2e/livelite_e2e.start_server, no
browser) fed by a real RTMP encoder, kills it, and starts a new one on the same
instance folder: nothing written before the kill may be lost. It takes about 25 s and
runs with the rest of the suite (it is the issue's own requirement). The other tests
drive the media manager in the test process with the real ingest.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path

import pytest
from factories import make_admin, make_user
from media_support import FPS, HEIGHT, WIDTH, clusters, decode, recording, rtmp_push, wait_for
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from video_media import decoded

from livelite.extensions import db
from livelite.media import hls, manager
from livelite.media import replay as replay_media
from livelite.models import FeedSource, FileStatus, LiveStatus, Replay, Role
from livelite.services import accounts, lives, replays

sys.path.insert(0, str(Path(__file__).parent / "e2e"))  # the server helpers, shared with e2e
from livelite_e2e import start_server, stop_server


# -- the server killed with SIGKILL --------------------------------------------------
def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (the server's ffmpeg), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Still running (a zombie waiting for init to reap it is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def query(database_url: str, sql: str, **params):
    """Read the server's database as it is now (the server writes it, we only look)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def recorded_seconds(folder: Path) -> float:
    """Seconds of media on disk in finished segments (what a crash must not lose)."""
    return hls.total_duration(folder)


@pytest.fixture
def leftovers():
    """Processes a test leaves behind (the ffmpeg orphaned by the kill): killed at the end."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("ffmpeg_too", [False, True], ids=["server", "server-and-its-ffmpeg"])
def test_a_server_killed_during_a_live_loses_nothing_and_the_next_start_makes_the_replay(
    tmp_path, make_app, ffmpeg_too, leftovers
):
    """``server``: only the app dies; its ffmpeg sees its input close and finishes the
    playlist itself. ``server-and-its-ffmpeg``: everything dies at once (a machine
    reset, systemd killing the service's control group): the playlist is left
    unfinished and the next start must finish it."""
    instance = tmp_path / "instance"
    # The site (an admin, a creator and their stream key) is made here, on the migrated
    # database the server then opens: three ``flask`` commands would take 15 s or more.
    site = make_app(INSTANCE_PATH=instance)
    database = site.config["SQLALCHEMY_DATABASE_URI"]  # SQLite's file, or PostgreSQL's
    with site.app_context():
        make_admin()
        key = lives.stream_key(make_user("maker", role=Role.CREATOR)).key
        db.session.remove()
        db.engine.dispose()
    server = start_server(instance)
    push = None
    try:
        port = server.env["LIVELITE_RTMP_PORT"]
        push = rtmp_push(f"rtmp://127.0.0.1:{port}/live/{key}", 60, realtime=True)

        def feed_folder() -> Path | None:
            rows = query(database, "SELECT media_dir FROM feeds WHERE media_dir IS NOT NULL")
            return instance / "media" / rows[0][0] if rows else None

        folder = wait_for(feed_folder, 20, "the push made no feed")
        wait_for(lambda: recorded_seconds(folder) >= 6, 30, "the server recorded less than 6 s")
        ffmpegs = children_of(server.process.pid)  # the feed's ffmpeg
        assert ffmpegs, "no ffmpeg ran under the server"
        leftovers.extend(ffmpegs)
        if ffmpeg_too:
            for pid in ffmpegs:  # frozen first, so it cannot finish anything when its input closes
                os.kill(pid, signal.SIGSTOP)
        on_disk = recorded_seconds(folder)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        if ffmpeg_too:
            for pid in ffmpegs:
                os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not any(alive(pid) for pid in ffmpegs), 10, "ffmpeg outlived SIGKILL")
            assert "#EXT-X-ENDLIST" not in (folder / "run-0001.m3u8").read_text()
        (live_id, status) = query(database, "SELECT id, status FROM lives")[0]
        assert status == "live"  # nobody had the chance to end it
    finally:
        if push is not None and push.poll() is None:
            push.kill()  # the encoder lost its server; stop it
        if push is not None:
            push.communicate(timeout=10)
        if server.process.poll() is None:
            stop_server(server)

    restarted = start_server(instance)
    try:
        # By the time it answers, the live is closed and its replay exists.
        assert query(database, "SELECT status, end_reason FROM lives WHERE id = :id", id=live_id) == [
            ("ended", "recovered")
        ]
        assert "Closed 1 live(s) left open by the previous run." in restarted.log()
        (replay_id, duration, visibility) = query(
            database, "SELECT id, duration_s, visibility FROM replays WHERE live_id = :id", id=live_id
        )[0]
        assert visibility == "private"
        assert duration >= on_disk, f"the replay has {duration} s, {on_disk} s were on disk before the kill"
        # Every run playlist is finished (by the orphan ffmpeg, or by the recovery).
        for playlist in hls.run_playlists(folder):
            assert playlist.read_text().rstrip().endswith("#EXT-X-ENDLIST")

        def mp4_ready():
            rows = query(
                database, "SELECT mp4_status, mp4_path FROM replay_feeds WHERE replay_id = :id", id=replay_id
            )
            assert rows and rows[0][0] in ("pending", "processing", "ready"), rows
            return rows[0][1] if rows[0][0] == "ready" else None

        mp4 = instance / "media" / wait_for(mp4_ready, 30, "the new server's queue made no MP4", 0.2)
    finally:
        stop_server(restarted)

    frames, seconds, width, height = decoded(mp4)
    assert (width, height) == (WIDTH, HEIGHT)
    assert seconds >= on_disk - 0.1 and abs(seconds - duration) <= 0.5
    assert frames >= on_disk * 25 - 2  # rtmp_push sends 25 frames a second


# -- in-process: the app's media manager with the real ingest --------------------------
@pytest.fixture
def site(app):
    with app.app_context():
        make_admin()
        make_user("maker", role=Role.CREATOR, display_name="Maker")
    yield app
    app.extensions["livelite.media"].shutdown()


def go_live(app) -> tuple[int, int]:
    """maker's live with its browser feed's ingest running: (live id, feed id)."""
    with app.app_context():
        maker = accounts.get_by_username("maker")
        live = lives.start_live(maker, title="Crash course")
        feed = lives.open_feed(
            live, maker, source=FeedSource.BROWSER, input_format="webm", video_codec="h264"
        )
        app.extensions["livelite.media"].start_ingest(feed)
        return live.id, feed.id


def replay_of(live_id: int) -> Replay:
    replay = replays.replay_of_live(lives.get_live(live_id))
    assert replay is not None, "the live has no replay"
    return replay


def test_a_killed_ffmpeg_restarts_and_the_replay_spans_both_runs(site):
    app = site
    media = app.extensions["livelite.media"]
    live_id, feed_id = go_live(app)
    chunks = clusters(recording("h264", seconds=8))
    folder = media.ingests[feed_id].out_dir
    for chunk in chunks[:4]:
        media.write(feed_id, chunk)
    wait_for(lambda: hls.total_duration(folder) >= 3, message="the first run wrote no segments")
    media.ingests[feed_id].kill()
    for chunk in chunks[4:]:  # the publisher goes on; the next write starts a new ffmpeg
        media.write(feed_id, chunk)
    media.end_live(live_id, "host")

    with app.app_context():
        replay = replay_of(live_id)
        assert [run.number for run in hls.feed_runs(folder)] == [1, 2]
        # At most the second the killed ffmpeg held is lost.
        assert 8 - 1.5 <= replay.duration_s <= 8 + 0.1
        timeline = replay_media.timeline(folder)
        assert len(timeline) == 2
        assert timeline[1]["replay_start"] == pytest.approx(timeline[0]["duration"])
        assert replays.make_pending() == 1
        db.session.expire_all()
        feed = replay_of(live_id).main_feed
        assert feed.mp4_status == FileStatus.READY
        mp4 = Path(app.config["MEDIA_ROOT"]) / feed.mp4_path
        duration = replay.duration_s

    frames, size = decode(mp4)
    assert size == (WIDTH, HEIGHT)
    # Every frame of both runs decodes, one after the other in one file.
    assert frames == pytest.approx(duration * FPS, abs=2)
    _frames, seconds, _w, _h = decoded(mp4)
    assert seconds == pytest.approx(duration, abs=0.2)


def test_a_full_disk_ends_the_live_and_keeps_what_was_recorded(site, monkeypatch):
    app = site
    media = app.extensions["livelite.media"]
    live_id, feed_id = go_live(app)
    folder = media.ingests[feed_id].out_dir
    for chunk in clusters(recording("h264", seconds=4)):
        media.write(feed_id, chunk)
    wait_for(lambda: hls.total_duration(folder) >= 3, message="ffmpeg wrote no segments")
    # The disk is now full: below the floor for the tick, and no file can be written
    # in the replays' folders (the thumbnail hits ENOSPC).
    monkeypatch.setattr(manager, "DISK_FLOOR_BYTES", 10**18)
    full_disk(monkeypatch, app, "thumb.jpg")
    media.tick()

    with app.app_context():
        live = lives.get_live(live_id)
        assert (live.status, live.end_reason) == (LiveStatus.ENDED, "disk_full")
        assert media.ingests == {}
        assert "#EXT-X-ENDLIST" in (folder / "run-0001.m3u8").read_text()
        replay = replay_of(live_id)
        assert replay.duration_s == pytest.approx(4, abs=0.1)  # the last second was flushed too
        assert replay.thumbnail_path is None  # it could not be written; the replay is kept anyway
        assert replays.make_pending() == 1
        db.session.expire_all()
        feed = replay_of(live_id).main_feed
        mp4 = Path(app.config["MEDIA_ROOT"]) / feed.mp4_path
    assert decode(mp4) == (4 * FPS, (WIDTH, HEIGHT))


def full_disk(monkeypatch, app, *names: str) -> None:
    """New replay folders get ``names`` as links to /dev/full: writing them fails with
    ENOSPC, as on a full disk (ffmpeg's own writes included)."""
    storage = app.extensions["livelite.storage"]
    original = storage.new_directory

    def new_directory(category: str) -> str:
        relative = original(category)
        for name in names:
            os.symlink("/dev/full", storage.root / relative / name)
        return relative

    monkeypatch.setattr(storage, "new_directory", new_directory)


def test_a_remux_that_runs_out_of_disk_fails_cleanly_and_a_retry_makes_it(site, monkeypatch):
    app = site
    media = app.extensions["livelite.media"]
    live_id, feed_id = go_live(app)
    for chunk in clusters(recording("h264", seconds=3)):
        media.write(feed_id, chunk)
    with monkeypatch.context() as patched:
        full_disk(patched, app, f"feed-{feed_id}.mp4.part")  # where ffmpeg writes the MP4
        media.end_live(live_id, "host")
    root = Path(app.config["MEDIA_ROOT"])
    with app.app_context():
        replay = replay_of(live_id)
        files = root / replay.files_dir
        assert replays.make_pending() == 1
        db.session.expire_all()
        replay = replay_of(live_id)
        feed = replay.main_feed
        assert (feed.mp4_status, feed.mp4_error, feed.mp4_path) == (FileStatus.FAILED, "disk_full", None)
        assert replays.failure_message(feed.mp4_error).startswith("The server ran out of disk space")
        # Nothing partial is left, and nothing half-made is counted.
        assert sorted(p.name for p in files.iterdir()) == ["ffmpeg.log", "thumb.jpg"]
        assert replay.size_bytes == replay_media.directory_size(files) + feed.size_bytes
        assert replays.make_pending() == 0  # a failure waits for someone to retry

        # Space again (the link is gone with the failed file): the owner retries.
        assert replays.retry(replay, accounts.get_by_username("maker")) == 1
        assert replay.main_feed.mp4_status == FileStatus.PENDING
        assert replays.make_pending() == 1
        db.session.expire_all()
        feed = replay_of(live_id).main_feed
        assert (feed.mp4_status, feed.mp4_error) == (FileStatus.READY, None)
        mp4 = root / feed.mp4_path
    assert decode(mp4) == (3 * FPS, (WIDTH, HEIGHT))


def test_running_out_of_disk_while_preparing_a_remux_is_disk_full_too(site, monkeypatch):
    app = site
    media = app.extensions["livelite.media"]
    live_id, feed_id = go_live(app)
    for chunk in clusters(recording("h264", seconds=2)):
        media.write(feed_id, chunk)
    media.end_live(live_id, "host")

    def no_space(source, out):  # the disk fills up while the run's segments are joined
        out.write(source.read_bytes()[:1000])
        raise OSError(errno.ENOSPC, "No space left on device", str(source))

    monkeypatch.setattr(replay_media, "_copy_into", no_space)
    with app.app_context():
        replay = replay_of(live_id)
        replays.make_pending()
        db.session.expire_all()
        feed = replay_of(live_id).main_feed
        assert (feed.mp4_status, feed.mp4_error) == (FileStatus.FAILED, "disk_full")
        files = Path(app.config["MEDIA_ROOT"]) / replay.files_dir
        assert sorted(p.name for p in files.iterdir()) == ["thumb.jpg"]  # no joined run left
        monkeypatch.undo()  # space again
        assert replays.retry(replay_of(live_id), accounts.get_by_username("maker")) == 1
        assert replays.make_pending() == 1
        db.session.expire_all()
        assert replay_of(live_id).main_feed.mp4_status == FileStatus.READY

"""The app's RTMP listener with a real encoder (ffmpeg standing in for OBS), and the
media manager's tick, previews and recovery after a restart."""

from __future__ import annotations

import socket
import struct
import threading
import time
from datetime import timedelta

import cv2
import pytest
from factories import make_admin, make_user
from media_support import finish_push, publish_recording, rtmp_push, stop_push, wait_for
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.media import amf0, hls
from livelite.media.rtmp import RtmpServer
from livelite.models import Feed, FeedSource, Live, LiveStatus, Role
from livelite.services import accounts, lives
from livelite.services.settings import set_setting


@pytest.fixture
def rtmp_app(make_app):
    """An app listening for encoders on a free port, with a creator and a member."""
    app = make_app(RTMP_HOST="127.0.0.1", RTMP_PORT=0)
    with app.app_context():
        make_admin()
        make_user("maker", display_name="Mia Maker", role=Role.CREATOR)
        make_user("member")
    media = app.extensions["livelite.media"]
    app.rtmp_port = media.start_rtmp()
    yield app
    media.shutdown()


def key_of(app, username: str) -> str:
    with app.app_context():
        return lives.stream_key(accounts.get_by_username(username)).key


def url(app, key: str) -> str:
    return f"rtmp://127.0.0.1:{app.rtmp_port}/live/{key}"


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Live)),
            db.session.scalar(select(func.count()).select_from(Feed)),
        )


def live_of(app, username: str) -> Live | None:
    """The newest live of a user, read afresh (the RTMP threads write in their own sessions)."""
    with app.app_context():
        user = accounts.get_by_username(username)
        live = db.session.scalar(select(Live).where(Live.host_id == user.id).order_by(Live.id.desc()))
        if live is not None:
            live.feeds  # load them before the session closes  # noqa: B018
            db.session.expunge(live)
        return live


def lives_root(app):
    return app.extensions["livelite.media"].root / "lives"


# -- who may publish -----------------------------------------------------------------
def test_an_unknown_key_is_refused_before_anything_is_made(rtmp_app):
    code, err = finish_push(rtmp_push(url(rtmp_app, "live_not-a-key"), seconds=1))
    assert code != 0
    assert "Stream key refused" in err
    assert counts(rtmp_app) == (0, 0)
    assert not lives_root(rtmp_app).exists()


def test_the_key_of_someone_who_may_not_go_live_is_refused(rtmp_app):
    code, err = finish_push(rtmp_push(url(rtmp_app, key_of(rtmp_app, "member")), seconds=1))
    assert code != 0
    assert "Stream key refused" in err
    assert counts(rtmp_app) == (0, 0)
    assert not lives_root(rtmp_app).exists()
    assert rtmp_app.extensions["livelite.media"].rtmp_publishers == set()


def test_a_rotated_key_is_refused(rtmp_app):
    old = key_of(rtmp_app, "maker")
    with rtmp_app.app_context():
        lives.rotate_stream_key(accounts.get_by_username("maker"))
    code, _err = finish_push(rtmp_push(url(rtmp_app, old), seconds=1))
    assert code != 0
    assert counts(rtmp_app) == (0, 0)


def test_a_second_encoder_on_a_key_in_use_is_refused(rtmp_app):
    key = key_of(rtmp_app, "maker")
    first = rtmp_push(url(rtmp_app, key), seconds=60, realtime=True)
    try:
        live = wait_for(
            lambda: (found := live_of(rtmp_app, "maker")) and found.feeds and found,
            message="the first encoder made no live with a feed",
        )
        folder = rtmp_app.extensions["livelite.media"].root / live.feeds[0].media_dir
        wait_for(lambda: hls.total_duration(folder) >= 1, message="no segment while the first one pushes")

        code, err = finish_push(rtmp_push(url(rtmp_app, key), seconds=1))
        assert code != 0 and "Stream key refused" in err
        assert counts(rtmp_app) == (1, 1)
        assert live_of(rtmp_app, "maker").is_live  # the first push goes on
    finally:
        first_code, first_err = stop_push(first)
    assert first_code == 0, first_err
    ended = wait_for(lambda: (live := live_of(rtmp_app, "maker")) and not live.is_live and live)
    assert ended.end_reason == "host"


def test_an_accepted_push_is_a_live_that_ends_when_the_encoder_stops(rtmp_app):
    code, err = finish_push(rtmp_push(url(rtmp_app, key_of(rtmp_app, "maker")), seconds=3))
    assert code == 0, err
    # The encoder unpublished cleanly: the live ends (as OBS's Stop Streaming does).
    live = wait_for(
        lambda: (found := live_of(rtmp_app, "maker")) and found.status == LiveStatus.ENDED and found,
        message="the live did not end after the encoder stopped",
    )
    assert live.title == "Mia Maker LIVE"
    assert live.end_reason == "host"
    (feed,) = live.feeds
    assert (feed.source, feed.input_format, feed.active) == (FeedSource.RTMP, "flv", False)
    folder = rtmp_app.extensions["livelite.media"].root / feed.media_dir
    assert hls.total_duration(folder) == pytest.approx(3.0, abs=0.1)
    playlist = (
        rtmp_app.test_client().get(f"/lives/{live.id}/feeds/{feed.id}/index.m3u8").get_data(as_text=True)
    )
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist and playlist.count("#EXTINF") == 3
    assert rtmp_app.extensions["livelite.media"].rtmp_publishers == set()
    assert rtmp_app.extensions["livelite.media"].ingests == {}


# -- the media tick -------------------------------------------------------------------
def test_the_tick_ends_a_live_whose_publisher_is_gone_past_the_grace(rtmp_app):
    media = rtmp_app.extensions["livelite.media"]
    with rtmp_app.app_context():
        set_setting("PUBLISHER_GRACE_SECONDS", 5)
        other = make_user("other", role=Role.CREATOR)
        lost_id = lives.start_live(accounts.get_by_username("maker"), title="Lost").id
        kept_id = lives.start_live(other, title="Kept").id
    lost_feed = publish_recording(rtmp_app, lost_id, seconds=2, finish=False)
    kept_feed = publish_recording(rtmp_app, kept_id, seconds=2, finish=False)
    media.last_data[lost_feed] = time.monotonic() - 6  # silent longer than the grace
    media.last_data[kept_feed] = time.monotonic() - 3  # silent, but within it

    media.tick()

    lost, kept = live_of(rtmp_app, "maker"), live_of(rtmp_app, "other")
    assert (lost.status, lost.end_reason) == (LiveStatus.ENDED, "publisher_lost")
    assert kept.is_live and kept.end_reason is None
    assert set(media.ingests) == {kept_feed}
    # The lost live's ffmpeg was finished, not abandoned.
    folder = media.root / lost.feeds[0].media_dir
    assert "#EXT-X-ENDLIST" in (folder / "run-0001.m3u8").read_text()
    # The live that goes on got its health saved and a preview on this tick.
    assert kept.preview_path == f"lives/{kept_id}/preview.jpg"
    assert kept.feeds[0].health and '"input_bitrate_kbps"' in kept.feeds[0].health


def test_the_tick_ends_a_live_that_never_got_a_publisher(rtmp_app):
    media = rtmp_app.extensions["livelite.media"]
    with rtmp_app.app_context():
        set_setting("PUBLISHER_GRACE_SECONDS", 5)
        live = lives.start_live(accounts.get_by_username("maker"), title="Nobody came")
        live_id = live.id
    media.tick()
    assert live_of(rtmp_app, "maker").is_live  # just started: still waiting
    with rtmp_app.app_context():
        live = lives.get_live(live_id)
        live.started_at -= timedelta(seconds=6)  # started longer ago than the grace
        db.session.commit()
    media.tick()
    assert live_of(rtmp_app, "maker").end_reason == "publisher_lost"


def test_a_preview_is_a_jpeg_of_the_newest_segment(rtmp_app):
    media = rtmp_app.extensions["livelite.media"]
    with rtmp_app.app_context():
        live_id = lives.start_live(accounts.get_by_username("maker"), title="Pictures").id
    assert media.make_preview(live_id) is False  # no feed yet
    publish_recording(rtmp_app, live_id, seconds=2)
    assert media.make_preview(live_id) is True
    image = cv2.imread(str(media.root / f"lives/{live_id}/preview.jpg"))
    assert image is not None and image.shape == (240, 320, 3)
    assert image.std() > 10  # a picture, not a flat frame
    assert live_of(rtmp_app, "maker").preview_path == f"lives/{live_id}/preview.jpg"


def test_recover_ends_the_lives_a_previous_process_left_running(make_app, tmp_path):
    first = make_app()
    with first.app_context():
        make_admin()
        maker = make_user("maker", role=Role.CREATOR)
        crashed_id = lives.start_live(maker, title="Crashed").id
        idle_id = lives.start_live(make_user("idle", role=Role.CREATOR), title="Idle").id
        scheduled_id = lives.create_live(make_user("later", role=Role.CREATOR), title="Later").id
        done = lives.start_live(make_user("done", role=Role.CREATOR), title="Done")
        lives.end_live(done, "host")
        done_id = done.id
    feed_id = publish_recording(first, crashed_id, seconds=2, finish=False)
    first.extensions["livelite.media"].ingests[feed_id].kill()  # the process died with it

    second = make_app(INSTANCE_PATH=tmp_path)  # the restart, on the same data
    assert second.extensions["livelite.media"].recover() == 2
    with second.app_context():
        status = {
            live_id: (lives.get_live(live_id).status, lives.get_live(live_id).end_reason)
            for live_id in (crashed_id, idle_id, scheduled_id, done_id)
        }
    assert status == {
        crashed_id: (LiveStatus.ENDED, "recovered"),
        idle_id: (LiveStatus.ENDED, "recovered"),
        scheduled_id: (LiveStatus.SCHEDULED, None),
        done_id: (LiveStatus.ENDED, "host"),
    }
    # What the crashed live recorded plays as a finished video.
    playlist = second.test_client().get(f"/lives/{crashed_id}/feeds/{feed_id}/index.m3u8")
    body = playlist.get_data(as_text=True)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in body and body.rstrip().endswith("#EXT-X-ENDLIST")
    assert "run-0001-00000.m4s" in body
    assert second.extensions["livelite.media"].recover() == 0


# -- the end of a publish, byte by byte ---------------------------------------------
def rtmp_command(*values, stream_id: int = 0) -> bytes:
    """One AMF0 command message on chunk stream 3, cut into 128-byte chunks."""
    payload = amf0.encode(*values)
    header = bytes([3]) + (0).to_bytes(3, "big") + len(payload).to_bytes(3, "big") + bytes([20])
    out = header + struct.pack("<I", stream_id) + payload[:128]
    for offset in range(128, len(payload), 128):
        out += bytes([0xC3]) + payload[offset : offset + 128]
    return out


def still_open(sock: socket.socket, seconds: float) -> bool:
    """Drain what the server sends for ``seconds``; False if it closed the connection."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return True
    return False


def test_after_fcunpublish_the_listener_waits_for_delete_stream():
    """ffmpeg and OBS stop with FCUnpublish then deleteStream; hanging up after the first
    made the encoder's last write fail (ffmpeg: "Error closing file: Broken pipe")."""
    closed = threading.Event()

    class Sink:
        def write(self, data):
            pass

        def close(self, clean=False):
            self.clean = clean
            closed.set()

    sink = Sink()
    server = RtmpServer("127.0.0.1", 0, lambda _app, _key, _peer: sink)
    port = server.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"\x03" + bytes(1536))
            received = b""
            while len(received) < 1 + 2 * 1536:
                received += sock.recv(4096)
            sock.sendall(received[1:1537])  # C2 echoes S1
            sock.sendall(rtmp_command("connect", 1.0, {"app": "live"}))
            sock.sendall(rtmp_command("createStream", 2.0, None))
            sock.sendall(rtmp_command("publish", 3.0, None, "key", "live", stream_id=1))
            sock.sendall(rtmp_command("FCUnpublish", 4.0, None, "key"))
            assert still_open(sock, 0.5), "the listener hung up before deleteStream"
            sock.sendall(rtmp_command("deleteStream", 5.0, None, 1.0))
            assert not still_open(sock, 5), "the listener kept the connection after deleteStream"
        assert closed.wait(5)
        assert sink.clean is True
    finally:
        server.stop()

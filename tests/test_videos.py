"""Short videos and stories: upload checks, the conversion, progress, expiry, requeue."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from factories import make_admin, make_user
from flask import current_app
from media_support import wait_for
from sqlalchemy import func, select
from video_media import clip, decoded, ffmpeg_info, png_bytes, stream_lines, top_level_boxes

from livelite.extensions import db, socketio
from livelite.models import Event, MediaType, Role, User, Video, VideoKind, VideoStatus
from livelite.models.base import utcnow
from livelite.services import accounts, events, notifications, videos
from livelite.services.errors import PermissionDenied, ValidationFailed
from livelite.services.settings import get_setting, set_setting


@pytest.fixture
def people(app):
    with app.app_context():
        admin = make_admin()
        creator = make_user("carla", role=Role.CREATOR)
        fan = make_user("fred")
        return admin.id, creator.id, fan.id


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


def media_files() -> list[Path]:
    """Every file under the media root: a refused upload must leave none."""
    root = Path(current_app.config["MEDIA_ROOT"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def stored(relative: str) -> Path:
    return current_app.extensions["livelite.storage"].path(relative)


def upload(user_id: int, data: bytes, **kwargs) -> Video:
    return videos.upload(user(user_id), io.BytesIO(data), **kwargs)


def schedule(creator_id: int, *, hours: float = 24, title: str = "Fractions") -> Event:
    return events.create_event(
        user(creator_id), title=title, starts_at=utcnow() + timedelta(hours=hours), duration_minutes=60
    )


# -- refusals ----------------------------------------------------------------------
def _truncated_mp4() -> bytes:
    data = clip(3)
    return data[: len(data) // 3]


BAD_UPLOADS = [
    pytest.param(
        lambda: b"hello, this is a text file\n" * 40, "not a video we can read", id="text-renamed-mp4"
    ),
    pytest.param(_truncated_mp4, "damaged or incomplete", id="truncated-mp4"),
    pytest.param(lambda: b"", "The file is empty.", id="zero-bytes"),
    pytest.param(lambda: clip(0.5), "too short (0.5 s)", id="half-a-second"),
    pytest.param(png_bytes, "This is a picture, not a video.", id="png-as-video"),
    pytest.param(lambda: clip(1, "8200x64", fps=5, audio=False), "8200×64 pixels", id="huge-dimensions"),
]


@pytest.mark.parametrize(("make", "message"), BAD_UPLOADS)
def test_bad_uploads_are_refused_with_a_clear_message_and_leave_nothing(app, people, make, message):
    _, creator_id, _ = people
    data = make()
    with app.app_context():
        with pytest.raises(ValidationFailed) as caught:
            upload(creator_id, data, caption="nope")
        assert message in caught.value.errors["file"][0]
        assert db.session.scalar(select(func.count()).select_from(Video)) == 0
        assert media_files() == []


def test_a_cut_off_upload_whose_index_survived_is_refused(app, people):
    """A faststart file (index first) cut in the middle opens, but its end does not decode."""
    import subprocess

    from media_support import FFMPEG

    _, creator_id, _ = people
    source = Path(app.instance_path) / "faststart.mp4"
    source.write_bytes(clip(3, "320x240"))
    target = Path(app.instance_path) / "faststart2.mp4"
    subprocess.run(
        [FFMPEG, "-loglevel", "error", "-y", "-i", source, "-c", "copy", "-movflags", "+faststart", target],
        check=True,
    )
    data = target.read_bytes()
    source.unlink()
    target.unlink()
    with app.app_context():
        with pytest.raises(ValidationFailed, match="damaged or incomplete"):
            upload(creator_id, data[: len(data) // 2])
        assert media_files() == []


def test_duration_limits_are_settings(app, people):
    _, creator_id, _ = people
    with app.app_context():
        set_setting("VIDEO_MAX_SECONDS", 2)
        with pytest.raises(ValidationFailed, match=r"Videos last at most 2 s; this one lasts 3 s\."):
            upload(creator_id, clip(3))
        set_setting("VIDEO_MAX_SECONDS", 600)
        set_setting("VIDEO_MIN_SECONDS", 4)
        with pytest.raises(ValidationFailed, match=r"too short \(3 s\)\. Videos last at least 4 s\."):
            upload(creator_id, clip(3))
        set_setting("VIDEO_MIN_SECONDS", 1)
        set_setting("STORY_MAX_SECONDS", 2)
        with pytest.raises(ValidationFailed, match=r"Stories last at most 2 s"):
            upload(creator_id, clip(3), kind="story")
        # The same clip is fine as a video.
        assert upload(creator_id, clip(3)).status == VideoStatus.PROCESSING
        assert len([p for p in media_files() if p.name == "source"]) == 1
        # The shortest can never exceed the longest, whichever is changed.
        with pytest.raises(ValidationFailed, match=r"Must not be more than VIDEO_MAX_SECONDS \(600\)"):
            set_setting("VIDEO_MIN_SECONDS", 601)
        set_setting("VIDEO_MIN_SECONDS", 30)
        with pytest.raises(ValidationFailed, match=r"Must not be less than VIDEO_MIN_SECONDS \(30\)"):
            set_setting("VIDEO_MAX_SECONDS", 29)
        assert get_setting("VIDEO_MAX_SECONDS") == 600


def test_size_limit_is_a_setting_and_the_copy_stops_there(app, people):
    _, creator_id, _ = people
    with app.app_context():
        set_setting("VIDEO_MAX_MB", 1)
        big = clip(3) + b"\0" * (1024 * 1024)
        with pytest.raises(ValidationFailed, match=r"too large: 1 MB at most"):
            upload(creator_id, big)
        assert media_files() == []


def test_caption_kind_and_who_may_post(app, people):
    _, creator_id, fan_id = people
    with app.app_context():
        with pytest.raises(ValidationFailed, match="at most 2200 characters"):
            upload(fan_id, clip(3), caption="x" * 2201)
        with pytest.raises(ValidationFailed, match="Choose a video or a story"):
            upload(fan_id, clip(3), kind="reel")
        with pytest.raises(ValidationFailed, match="Choose a file"):
            videos.upload(user(fan_id), None)
        accounts.set_banned(user(fan_id), True)
        with pytest.raises(PermissionDenied, match="banned"):
            upload(fan_id, clip(3))
        assert media_files() == []
        # Any member may post (no follower or age bar beyond registration).
        video = upload(creator_id, clip(3), caption="  two\r\nlines  ")
        assert video.caption == "two\nlines"


def test_a_video_links_only_to_the_creators_own_upcoming_event(app, people):
    _, creator_id, fan_id = people
    with app.app_context():
        other = make_user("olga", role=Role.CREATOR)
        theirs = schedule(other.id)
        with pytest.raises(ValidationFailed, match="your own upcoming events"):
            upload(creator_id, clip(3), event_id=theirs.id)
        with pytest.raises(ValidationFailed, match="your own upcoming events"):
            upload(creator_id, clip(3), event_id=999)
        cancelled = schedule(creator_id, title="Cancelled one")
        events.cancel_event(cancelled, user(creator_id))
        with pytest.raises(ValidationFailed, match="cancelled"):
            upload(creator_id, clip(3), event_id=cancelled.id)
        past = schedule(creator_id, title="Past one")
        past.starts_at = utcnow() - timedelta(hours=3)  # 60 minutes long: over
        db.session.commit()
        with pytest.raises(ValidationFailed, match="over"):
            upload(creator_id, clip(3), event_id=past.id)
        assert media_files() == []
        mine = schedule(creator_id, title="Mine")
        assert [e.id for e in videos.linkable_events(user(creator_id))] == [mine.id]
        video = upload(creator_id, clip(3), event_id=mine.id)
        assert video.event_id == mine.id
        # Once the event is cancelled later, the card disappears (the link stays harmless).
        events.cancel_event(mine, user(creator_id))
        assert videos.event_card(video, user(fan_id)) is None


# -- the conversion ----------------------------------------------------------------
def test_conversion_makes_a_faststart_h264_aac_mp4_and_a_thumbnail(app, people, client, auth):
    _, creator_id, _ = people
    auth.login("carla")
    progress = socketio.test_client(app, namespace="/me", flask_test_client=client)
    assert progress.is_connected("/me")
    progress.get_received("/me")
    source_clip = clip(4, "640x360", codec="mpeg4", container="mov")
    with app.app_context():
        video = upload(creator_id, source_clip, caption="A test")
        assert video.status == VideoStatus.PROCESSING and video.progress == 0
        assert abs(video.duration_s - 4) < 0.1 and (video.width, video.height) == (640, 360)
        source = stored(video.source_path)
        assert source.read_bytes() == source_clip
        video = videos.process(video.id)
        assert video.status == VideoStatus.READY and video.progress == 100 and video.ready_at
        assert video.source_path is None and not source.exists()
        output = stored(video.file_path)
        assert video.size_bytes == output.stat().st_size
        thumb = stored(video.thumbnail_path)

    frames, duration, width, height = decoded(output)
    assert frames >= 95 and abs(duration - 4) <= 0.5
    assert (width, height) == (640, 360)
    streams = stream_lines(ffmpeg_info(output))
    assert streams["Video"].startswith("h264") and "yuv420p" in streams["Video"]
    assert streams["Audio"].startswith("aac")
    boxes = top_level_boxes(output.read_bytes())
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    picture = cv2.imdecode(np.frombuffer(thumb.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[1] == 640

    events_seen = [m["args"][0] for m in progress.get_received("/me") if m["name"] == "video_progress"]
    assert events_seen, "the uploader's pages heard nothing"
    assert events_seen[-1] == {"id": video.id, "status": "ready", "progress": 100, "error": ""}
    steps = [e["progress"] for e in events_seen[:-1]]
    assert steps == sorted(set(steps)) and all(s % 5 == 0 and 0 < s < 100 for s in steps)
    progress.disconnect("/me")


def test_large_and_odd_sizes_come_out_at_most_1080_and_even(app, people):
    _, creator_id, _ = people
    with app.app_context():
        portrait = videos.process(upload(creator_id, clip(1, "1080x1920", audio=False)).id)
        odd = videos.process(upload(creator_id, clip(1, "321x241", pix_fmt="yuv444p", audio=False)).id)
        outputs = [stored(portrait.file_path), stored(odd.file_path)]
    _, _, width, height = decoded(outputs[0])
    assert (width, height) == (606, 1080)
    _, _, width, height = decoded(outputs[1])
    assert (width, height) == (320, 240)
    # No sound in, no audio track out.
    assert "Audio" not in stream_lines(ffmpeg_info(outputs[1]))


def test_webm_without_a_duration_in_its_header_is_measured_by_ffmpeg(app, people):
    _, creator_id, _ = people
    with app.app_context():
        video = upload(creator_id, clip(2, container="webm", codec="libvpx"))
        assert abs(video.duration_s - 2) < 0.2
        assert videos.process(video.id).status == VideoStatus.READY


def test_progress_is_saved_every_five_percent(app, people, monkeypatch):
    _, creator_id, _ = people
    saved = []

    def fake_convert(ffmpeg, source, target, *, on_progress, **kwargs):
        for percent in (0.5, 3, 4.9, 5.2, 7, 12, 12.5, 61, 99.9):
            on_progress(percent)
            saved.append(db.session.get(Video, video_id).progress)
        raise videos.transcode.ConversionFailed("boom", "fake log")

    monkeypatch.setattr(videos.transcode, "convert", fake_convert)
    with app.app_context():
        video_id = upload(creator_id, clip(3)).id
        source = stored(db.session.get(Video, video_id).source_path)
        video = videos.process(video_id)
        assert saved == [0, 0, 0, 5, 5, 10, 10, 60, 95]
        assert video.status == VideoStatus.FAILED and "could not convert" in videos.error_message(video)
        assert not source.exists() and video.source_path is None
        assert [p for p in media_files() if p.name == "video.mp4"] == []


def test_a_missing_source_fails_clearly(app, people):
    _, creator_id, _ = people
    with app.app_context():
        video = upload(creator_id, clip(3))
        stored(video.source_path).unlink()
        video = videos.process(video.id)
        assert video.status == VideoStatus.FAILED
        assert "lost before it could be converted" in videos.error_message(video)


def test_the_creator_is_notified_once_when_a_conversion_ends(app, people, client, auth):
    _, creator_id, fan_id = people
    with app.app_context():
        good = upload(creator_id, clip(2), caption="Good one")
        bad = upload(creator_id, clip(2), caption="Lost one")
        stored(bad.source_path).unlink()
        videos.process(good.id)
        videos.process(bad.id)
        videos.process(good.id)  # a repeat (the queue after a restart) changes nothing
        rows = notifications.latest(user(creator_id))
        told = sorted((row.kind, notifications.describe(row)) for row in rows)
        assert told == [
            ("video_failed", "Your video could not be converted. Open it to see why, then try another file."),
            ("video_ready", "Your video is ready: “Good one”"),
        ]
        assert notifications.latest(user(fan_id)) == []
        ready_id = next(row.id for row in rows if row.kind == "video_ready")
        good_id = good.id
    auth.login("carla")
    opened = client.get(f"/notifications/{ready_id}")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/v/{good_id}")


def test_videos_left_processing_are_queued_again_at_start(app, people):
    """What a restart finds PROCESSING is converted by the new process's queue."""
    _, creator_id, _ = people
    with app.app_context():
        first = upload(creator_id, clip(2)).id
        second = upload(creator_id, clip(2)).id
    queue = videos.VideoQueue(app, workers=1)
    assert queue.submit(first) is False  # not started: nothing runs yet
    queue.start(lambda func: threading.Thread(target=func, daemon=True).start())
    try:
        assert queue.recover() == 2

        def both_ready():
            with app.app_context():
                db.session.expire_all()
                rows = [db.session.get(Video, i) for i in (first, second)]
                return all(r.status == VideoStatus.READY for r in rows)

        wait_for(both_ready, timeout=60, message="requeued videos were not converted")
    finally:
        queue.stop()


def test_stopping_the_queue_kills_ffmpeg_and_keeps_the_video_processing(app, people):
    _, creator_id, _ = people
    with app.app_context():
        video_id = upload(creator_id, clip(20, "1280x720", audio=False)).id
    queue = videos.VideoQueue(app, workers=1)
    queue.start(lambda func: threading.Thread(target=func, daemon=True).start())
    queue.submit(video_id)
    wait_for(lambda: queue.running, timeout=30, message="ffmpeg did not start")
    queue.stop()
    wait_for(lambda: not queue.queued, timeout=30, message="the worker did not finish")
    with app.app_context():
        video = db.session.get(Video, video_id)
        assert video.status == VideoStatus.PROCESSING and stored(video.source_path).exists()
        assert [p for p in media_files() if p.name.startswith("video.mp4")] == []


# -- stories -----------------------------------------------------------------------
def test_a_photo_story_is_reencoded_and_ready_at_once(app, people):
    _, creator_id, _ = people
    image = np.full((2000, 1500, 3), 180, dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    exif = b"\xff\xd8\xff\xe1\x00\x16Exif\x00\x00GPS-COORDINATES!" + jpeg.tobytes()[2:]
    with app.app_context():
        story = upload(creator_id, exif, kind="story", caption="Behind the scenes")
        assert story.status == VideoStatus.READY and story.media_type == MediaType.PHOTO
        assert story.expires_at - story.created_at == timedelta(hours=24)
        photo = stored(story.file_path).read_bytes()
        assert b"GPS-COORDINATES" not in photo and b"Exif" not in photo
        decoded_photo = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
        assert decoded_photo.shape[:2] == (1440, 1080)
        assert [p.name for p in media_files() if p.name == "source"] == []


def test_a_video_story_converts_like_a_video_and_expires(app, people):
    _, creator_id, fan_id = people
    with app.app_context():
        story = upload(creator_id, clip(2), kind="story")
        assert story.kind == VideoKind.STORY and story.status == VideoStatus.PROCESSING
        story = videos.process(story.id)
        assert story.status == VideoStatus.READY
        assert videos.can_view(story, user(fan_id))
        later = story.expires_at + timedelta(seconds=1)
        assert not videos.can_view(story, user(creator_id), now=later)
        assert videos.active_stories(user(creator_id), now=later) == []


def test_story_rings_show_followed_people_and_hide_expired_stories(app, people):
    _, creator_id, fan_id = people
    with app.app_context():
        other = make_user("olga")
        upload(other.id, png_bytes(), kind="story")  # not followed: not in fred's row
        upload(creator_id, png_bytes(), kind="story")
        second = upload(creator_id, png_bytes(), kind="story")
        upload(fan_id, png_bytes(), kind="story")
        accounts.follow(user(fan_id), user(creator_id))
        rings = videos.story_rings(user(fan_id))
        assert [r.user.username for r in rings] == ["fred", "carla"]  # your own first
        assert len(rings[1].stories) == 2
        after = second.expires_at + timedelta(minutes=1)
        assert videos.story_rings(user(fan_id), now=after) == []


def test_expire_stories_deletes_expired_ones_with_files_and_is_idempotent(app, people):
    _, creator_id, _ = people
    with app.app_context():
        old = upload(creator_id, png_bytes(), kind="story")
        old_video = videos.process(upload(creator_id, clip(2), kind="story").id)
        fresh = upload(creator_id, png_bytes(), kind="story")
        kept_video = upload(creator_id, clip(3))  # a video never expires
        for story in (old, old_video):
            story.expires_at = utcnow() - timedelta(minutes=5)
        db.session.commit()
        old_files = [stored(p) for p in (old.file_path, old.thumbnail_path, old_video.file_path)]
        assert all(p.exists() for p in old_files)
        fresh_id, kept_id = fresh.id, kept_video.id

        from livelite import jobs

        jobs.expire_stories(current_app._get_current_object())
        assert not any(p.exists() for p in old_files)
        remaining = set(db.session.scalars(select(Video.id)))
        assert remaining == {fresh_id, kept_id}
        assert stored(db.session.get(Video, fresh_id).file_path).exists()
        assert videos.expire_stories() == 0  # running again is harmless
        # A missed tick catches up: everything due by then goes at once.
        assert videos.expire_stories(now=utcnow() + timedelta(hours=25)) == 1
        assert set(db.session.scalars(select(Video.id))) == {kept_id}


def test_deleting_removes_the_row_and_every_file(app, people):
    admin_id, creator_id, fan_id = people
    with app.app_context():
        video = videos.process(upload(creator_id, clip(2)).id)
        files = [stored(video.file_path), stored(video.thumbnail_path)]
        with pytest.raises(PermissionDenied):
            videos.delete_video(video, user(fan_id))
        videos.delete_video(video, user(admin_id))
        assert db.session.get(Video, video.id) is None
        assert not any(p.exists() for p in files)
        assert media_files() == []

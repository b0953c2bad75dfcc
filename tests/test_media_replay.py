"""Replay media against the real ffmpeg: recordings made by FeedIngest (as in a live)
become the downloadable MP4, the side-by-side MP4, a thumbnail and a time line.

No app here: livelite.media.replay is plain functions over folders.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import subprocess
import time

import cv2
import numpy as np
import pytest
from media_support import FFMPEG, FPS, HEIGHT, WIDTH, clusters, recording, wait_for
from video_media import decoded, ffmpeg_info, stream_lines, top_level_boxes

from livelite.media import hls, replay
from livelite.media.ingest import FeedIngest
from livelite.media.replay import ReplayMediaError


def _ingest(folder) -> FeedIngest:
    return FeedIngest(folder, input_format="webm", video_codec="h264", ffmpeg=FFMPEG)


@pytest.fixture(scope="module")
def one_run_feed(tmp_path_factory):
    """4 s recorded in one run, finished cleanly. Tests only read it."""
    folder = tmp_path_factory.mktemp("one") / "feed-1"
    ingest = _ingest(folder)
    for chunk in clusters(recording("h264", seconds=4)):
        ingest.write(chunk)
    ingest.finish()
    return folder


@pytest.fixture(scope="module")
def two_run_feed(tmp_path_factory):
    """ffmpeg killed after 2 s of a 6 s recording, restarted by the next write: run 1
    (2 s, no ENDLIST) and run 2 (3 s); the second ffmpeg never got is lost. Read only."""
    folder = tmp_path_factory.mktemp("two") / "feed-1"
    ingest = _ingest(folder)
    chunks = clusters(recording("h264", seconds=6))
    for chunk in chunks[:3]:
        ingest.write(chunk)
    wait_for(lambda: len(hls.parse_run(folder / "run-0001.m3u8").segments) >= 2, message="no segments")
    ingest.kill()
    for chunk in chunks[3:]:
        ingest.write(chunk)
    ingest.finish()
    runs = hls.feed_runs(folder)
    assert [len(run.segments) for run in runs] == [2, 3]
    assert not runs[0].ended and runs[1].ended
    return folder


def x264_options(path) -> str:
    """x264's settings SEI: copied streams keep the recording's (ultrafast: subme=0)."""
    match = re.search(rb"options: ([^\x00]+)", path.read_bytes())
    assert match, "no x264 SEI"
    return match.group(1).decode(errors="replace")


def frame_times(path) -> list[float]:
    """Each decoded frame's time (s), checking every frame has the source size."""
    capture = cv2.VideoCapture(str(path))
    times = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            assert frame.shape[:2] == (HEIGHT, WIDTH)
            times.append(capture.get(cv2.CAP_PROP_POS_MSEC) / 1000)
    finally:
        capture.release()
    return times


def remux(feed, tmp_path, **kwargs):
    target = tmp_path / "out" / "replay.mp4"
    replay.remux_feed(FFMPEG, feed, target, log_path=tmp_path / "remux.log", **kwargs)
    return target


# -- remux_feed ---------------------------------------------------------------
def test_one_run_becomes_a_faststart_mp4_copied_from_the_recording(one_run_feed, tmp_path):
    progress, started = [], []
    target = remux(one_run_feed, tmp_path, on_progress=progress.append, on_start=started.append)

    frames, seconds, width, height = decoded(target)
    assert (width, height) == (WIDTH, HEIGHT)
    assert frames == pytest.approx(4 * FPS, abs=1)
    assert seconds == pytest.approx(hls.total_duration(one_run_feed), abs=0.5)
    streams = stream_lines(ffmpeg_info(target))
    assert "h264" in streams["Video"] and "aac" in streams["Audio"]
    boxes = top_level_boxes(target.read_bytes())
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    assert "subme=0" in x264_options(target)  # the recording's own H.264, not encoded again
    assert progress and progress[-1] == 100.0
    assert all(0 <= p <= 99 for p in progress[:-1]) and progress == sorted(progress)
    assert len(started) == 1 and started[0].returncode == 0
    assert [p.name for p in target.parent.iterdir()] == ["replay.mp4"]  # no .part, no joined runs
    assert " -c copy " in (tmp_path / "remux.log").read_text()


def test_two_runs_become_one_continuous_mp4(two_run_feed, tmp_path):
    target = remux(two_run_feed, tmp_path)

    total = hls.total_duration(two_run_feed)
    assert total == pytest.approx(5.0, abs=0.1)
    frames, seconds, _w, _h = decoded(target)
    assert seconds == pytest.approx(total, abs=0.6)
    assert frames == pytest.approx(total * FPS, abs=2)
    times = frame_times(target)  # every frame decodes at the source size, across the join
    steps = np.diff(times)
    # One time line: no jump back to 0 at the second run, no hole where the runs meet.
    assert steps.min() > 0 and steps.max() < 3 / FPS
    assert times[-1] == pytest.approx(total, abs=0.2)
    assert "subme=0" in x264_options(target)
    assert [p.name for p in target.parent.iterdir()] == ["replay.mp4"]


def _matroska(size: str, seconds: int) -> bytes:
    """A recording at another picture size (a publisher's new camera)."""
    command = [
        FFMPEG,
        *("-hide_banner", "-loglevel", "error"),
        *("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}"),
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds)),
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(FPS)),
        *("-c:a", "libopus", "-cluster_time_limit", "1100", "-f", "matroska", "pipe:1"),
    ]
    return subprocess.run(command, capture_output=True, check=True, timeout=60).stdout


def test_runs_of_different_picture_sizes_are_encoded_into_one(tmp_path):
    folder = tmp_path / "feed"
    ingest = _ingest(folder)
    for chunk in clusters(recording("h264", seconds=2)):
        ingest.write(chunk)
    ingest.new_run()  # the publisher's new recorder, now in portrait
    for chunk in clusters(_matroska("240x320", 2)):
        ingest.write(chunk)
    ingest.finish()
    assert len(hls.feed_runs(folder)) == 2

    target = remux(folder, tmp_path)
    times = frame_times(target)  # all at the first run's size
    assert times[-1] == pytest.approx(4.0, abs=0.3)
    assert len(times) == pytest.approx(4 * FPS, abs=3)
    assert np.diff(times).max() < 3 / FPS
    landscape, portrait = (frames_at(target, {FPS, 3 * FPS})[i] for i in (FPS, 3 * FPS))
    # The upright picture whole, with black bars beside it (copied, it would not decode).
    assert landscape[:, :40].mean() > 60
    assert portrait[:, :60].mean() < 12 and portrait[:, -60:].mean() < 12
    assert portrait[:, 100:220].mean() > 60


def test_nothing_recorded_or_no_folder(tmp_path):
    (tmp_path / "feed").mkdir()
    (tmp_path / "feed" / "ffmpeg.log").write_text("started, never wrote a segment\n")
    with pytest.raises(ReplayMediaError) as empty:
        remux(tmp_path / "feed", tmp_path)
    assert empty.value.code == "empty"
    with pytest.raises(ReplayMediaError) as missing:
        remux(tmp_path / "gone", tmp_path)
    assert missing.value.code == "missing"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_truncated_init_segment_is_ffmpeg_failed_with_its_log(one_run_feed, tmp_path):
    folder = tmp_path / "feed"
    shutil.copytree(one_run_feed, folder)
    init = folder / "run-0001-init.mp4"
    init.write_bytes(init.read_bytes()[:100])
    with pytest.raises(ReplayMediaError) as failed:
        remux(folder, tmp_path)
    assert failed.value.code == "ffmpeg_failed"
    assert "does not contain any stream" in failed.value.log_tail  # ffmpeg found no track
    assert not any((tmp_path / "out").iterdir())


def test_no_space_while_joining_a_run_is_disk_full_and_leaves_nothing(two_run_feed, tmp_path, monkeypatch):
    copied = []
    copy = replay._copy_into

    def filling_up(source, out):
        if len(copied) == 3:  # run 1 joined, run 2 begun: the disk is full
            out.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        copied.append(source)
        copy(source, out)

    monkeypatch.setattr(replay, "_copy_into", filling_up)
    with pytest.raises(ReplayMediaError) as full:
        remux(two_run_feed, tmp_path)
    assert full.value.code == "disk_full"
    assert len(copied) == 3
    assert not any((tmp_path / "out").iterdir())  # the joined runs are gone too


def fake_ffmpeg(tmp_path, message: str):
    """An ffmpeg that writes half a file and fails with ``message`` on stderr."""
    script = tmp_path / f"ffmpeg-{len(list(tmp_path.glob('ffmpeg-*')))}"
    script.write_text(
        f'#!/bin/sh\nfor last; do :; done\nprintf half > "$last"\necho "{message}" >&2\nexit 1\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_ffmpeg_out_of_space_is_disk_full_and_an_old_log_line_does_not_count(one_run_feed, tmp_path):
    target = tmp_path / "out" / "replay.mp4"
    log = tmp_path / "remux.log"
    full = fake_ffmpeg(tmp_path, "av_interleaved_write_frame(): No space left on device")
    with pytest.raises(ReplayMediaError) as first:
        replay.remux_feed(full, one_run_feed, target, log_path=log)
    assert first.value.code == "disk_full"
    assert not any(target.parent.iterdir())  # the half-written .part is gone

    # The same log, a later attempt failing for another reason: not a full disk.
    broken = fake_ffmpeg(tmp_path, "Conversion failed!")
    with pytest.raises(ReplayMediaError) as second:
        replay.remux_feed(broken, one_run_feed, target, log_path=log)
    assert second.value.code == "ffmpeg_failed"
    assert "Conversion failed!" in second.value.log_tail
    assert not any(target.parent.iterdir())


# -- compose_side_by_side -------------------------------------------------------
def clip(path, seconds: float, size: str, tone_hz: int | None):
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}"]
    if tone_hz:
        command += ["-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=48000"]
    command += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    subprocess.run([*command, *(["-c:a", "aac"] if tone_hz else []), str(path)], check=True, timeout=60)
    return path


def frames_at(path, indexes: set[int]) -> dict[int, np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    found, index = {}, 0
    try:
        while len(found) < len(indexes):
            ok, frame = capture.read()
            if not ok:
                break
            if index in indexes:
                found[index] = frame
            index += 1
    finally:
        capture.release()
    return found


def tone_levels(path, start: float, end: float, tones=(440, 1000)) -> list[float]:
    """Amplitude of each tone in the mixed sound between ``start`` and ``end``."""
    raw = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-ac", "1", "-ar", "48000", "-f", "f32le", "pipe:1"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    samples = np.frombuffer(raw, dtype=np.float32)[int(start * 48000) : int(end * 48000)]
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) / len(samples)
    freqs = np.fft.rfftfreq(len(samples), 1 / 48000)
    return [float(spectrum[np.abs(freqs - tone) < 5].max()) for tone in tones]


def test_compose_puts_a_guest_beside_the_host_from_its_offset(tmp_path):
    host = clip(tmp_path / "host.mp4", 4, "320x240", 440)
    guest = clip(tmp_path / "guest.mp4", 2, "240x320", 1000)  # a phone, upright
    target = tmp_path / "out" / "side.mp4"
    progress = []
    replay.compose_side_by_side(
        FFMPEG,
        [(host, 0.0), (guest, 1.0)],
        target,
        duration_s=4.0,
        log_path=tmp_path / "compose.log",
        on_progress=progress.append,
    )
    frames, seconds, width, height = decoded(target)
    assert (width, height) == (1280, 720)
    assert seconds == pytest.approx(4.0, abs=0.2)
    assert progress[-1] == 100.0
    assert top_level_boxes(target.read_bytes()).index("moov") < top_level_boxes(target.read_bytes()).index(
        "mdat"
    )
    assert [p.name for p in target.parent.iterdir()] == ["side.mp4"]

    fps = frames / seconds
    shots = frames_at(target, {round(t * fps) for t in (0.5, 2.0, 3.6)})
    before, during, after = (shots[round(t * fps)] for t in (0.5, 2.0, 3.6))
    # Guest tile: x 960–1280, y 240–480 (one guest, centred); the portrait picture sits
    # in its middle, black bars at the sides.
    for shot in (before, during, after):
        assert shot[40:680, 40:920].mean() > 60  # the host, all along
    assert during[260:460, 1060:1180].mean() > 60
    assert during[260:460, 965:1020].mean() < 12  # pillarbox: aspect ratio kept
    assert before[240:480, 960:1280].mean() < 12  # not joined yet
    assert after[240:480, 960:1280].mean() < 12  # left at 3.0 s: black, not frozen

    source = tone_levels(host, 0.2, 0.9)
    host_alone = tone_levels(target, 0.2, 0.9)
    assert host_alone[0] == pytest.approx(source[0], rel=0.2)  # mixed at its own level
    together = tone_levels(target, 1.2, 2.8)
    host_again = tone_levels(target, 3.2, 3.9)
    assert host_alone[1] < host_alone[0] / 20 and host_again[1] < host_again[0] / 20
    assert together[1] > together[0] / 2  # the guest is heard from 1.0 s...
    assert together[0] == pytest.approx(host_alone[0], rel=0.2)  # ...and the host not turned down


def test_compose_with_a_guest_without_sound(tmp_path):
    host = clip(tmp_path / "host.mp4", 2, "320x240", 440)
    guest = clip(tmp_path / "mute.mp4", 2, "320x240", None)
    target = tmp_path / "side.mp4"
    replay.compose_side_by_side(
        FFMPEG, [(host, 0.0), (guest, 0.5)], target, duration_s=2.0, log_path=tmp_path / "compose.log"
    )
    frames, seconds, width, height = decoded(target)
    assert (width, height) == (1280, 720) and seconds == pytest.approx(2.0, abs=0.2)
    assert "aac" in stream_lines(ffmpeg_info(target))["Audio"]
    shot = frames_at(target, {round(1.0 * frames / seconds)}).popitem()[1]
    assert shot[260:460, 980:1260].mean() > 60  # the silent guest is seen
    assert tone_levels(target, 0.2, 1.8)[0] > 0.01  # and the host heard


def test_compose_refuses_a_missing_or_unreadable_input(tmp_path):
    host = clip(tmp_path / "host.mp4", 1, "320x240", 440)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\0\0\0\x18ftypisom" + b"\xff" * 500)
    for guest, code in ((tmp_path / "gone.mp4", "missing"), (broken, "ffmpeg_failed")):
        with pytest.raises(ReplayMediaError) as failed:
            replay.compose_side_by_side(
                FFMPEG, [(host, 0.0), (guest, 0.0)], tmp_path / "x.mp4", duration_s=1, log_path=tmp_path / "l"
            )
        assert failed.value.code == code
    assert not list(tmp_path.glob("x.mp4*"))


# -- thumbnail, timeline, finish_unterminated, directory_size -------------------------
def test_thumbnail_is_the_frame_a_quarter_in(two_run_feed, tmp_path):
    jpeg = replay.thumbnail(two_run_feed, width=160)
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (120, 160, 3)
    full = cv2.imdecode(np.frombuffer(replay.thumbnail(two_run_feed), np.uint8), cv2.IMREAD_COLOR)
    assert full.shape == (HEIGHT, WIDTH, 3)  # at most 640 wide, never enlarged

    # 5 s recorded: a quarter is 1.25 s, 0.25 s into run 1's second segment.
    run = hls.feed_runs(two_run_feed)[0]
    joined = tmp_path / "segment.mp4"
    joined.write_bytes(
        (two_run_feed / run.init).read_bytes() + (two_run_feed / run.segments[1].uri).read_bytes()
    )
    candidates = frames_at(joined, set(range(FPS)))
    distance = {
        i: np.abs(cv2.resize(f, (160, 120), interpolation=cv2.INTER_AREA).astype(int) - image).mean()
        for i, f in candidates.items()
    }
    assert abs(min(distance, key=distance.get) - 0.25 * FPS) <= 1


def test_thumbnail_of_nothing_is_none(tmp_path):
    assert replay.thumbnail(tmp_path) is None


def test_timeline_places_wall_clock_times_on_the_replay(two_run_feed, tmp_path):
    folder = tmp_path / "feed"
    shutil.copytree(two_run_feed, folder)
    first, second = hls.feed_runs(folder)
    t0 = 1_700_000_000.0
    # The first segments were finished 1 s after their runs began, 10 s apart.
    os.utime(folder / first.segments[0].uri, (t0 + 1.0, t0 + 1.0))
    os.utime(folder / second.segments[0].uri, (t0 + 11.0, t0 + 11.0))

    line = replay.timeline(folder)
    assert line == [
        {"wall_start": pytest.approx(t0), "replay_start": 0.0, "duration": pytest.approx(2.0, abs=0.05)},
        {
            "wall_start": pytest.approx(t0 + 10),
            "replay_start": pytest.approx(2.0, abs=0.05),
            "duration": pytest.approx(3.0, abs=0.05),
        },
    ]
    position = lambda seconds: replay.replay_position(line, t0 + seconds)  # noqa: E731
    assert position(-5) == 0.0  # before the live
    assert position(1.5) == pytest.approx(1.5)
    assert position(5) == pytest.approx(line[1]["replay_start"])  # in the gap: the next run
    assert position(10.5) == pytest.approx(line[1]["replay_start"] + 0.5)
    assert position(12.9) == pytest.approx(line[1]["replay_start"] + 2.9)
    assert position(100) == pytest.approx(line[1]["replay_start"] + line[1]["duration"])
    assert replay.replay_position([], t0) == 0.0


def test_finish_unterminated_ends_a_killed_run_and_removes_stale_temporaries(two_run_feed, tmp_path):
    folder = tmp_path / "feed"
    shutil.copytree(two_run_feed, folder)
    stale = folder / "run-0001-00002.m4s.tmp"  # what an ffmpeg killed mid-write leaves
    stale.write_bytes(b"\0" * 100)
    old = time.time() - 60
    os.utime(stale, (old, old))
    fresh = folder / "run-0002.m3u8.tmp"  # an orphan ffmpeg about to rename it: hands off
    fresh.write_text("#EXTM3U\n")
    before = (folder / "run-0001.m3u8").read_text()

    assert replay.finish_unterminated(folder) == 1
    after = (folder / "run-0001.m3u8").read_text()
    assert after == before + "#EXT-X-ENDLIST\n"  # appended in place, nothing else touched
    assert all(run.ended for run in hls.feed_runs(folder))
    assert not stale.exists() and fresh.exists()
    assert replay.finish_unterminated(folder) == 0  # idempotent
    assert (folder / "run-0002.m3u8").read_text().count("#EXT-X-ENDLIST") == 1
    assert replay.finish_unterminated(tmp_path / "gone") == 0


def test_directory_size_counts_regular_files_only(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one").write_bytes(b"x" * 1000)
    (tmp_path / "a" / "b" / "two").write_bytes(b"x" * 234)
    outside = tmp_path / "big"
    outside.write_bytes(b"x" * 5000)
    (tmp_path / "a" / "link").symlink_to(outside)
    assert replay.directory_size(tmp_path / "a") == 1234
    assert replay.directory_size(tmp_path / "gone") == 0

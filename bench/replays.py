#!/usr/bin/env python
"""How long the replay archive's work takes on this machine (livelite.media.replay and
services.replays): not run by CI.

    python bench/replays.py [--minutes 5] [--compose-seconds 60] [--messages 10000]

1. **Remux**: ``--minutes`` of 720p30 recorded the way the ingest records a feed (HLS
   fMP4, 1 s segments, H.264 at ~2.5 Mbit/s + AAC 128k, written by ffmpeg directly in
   the ingest's run layout), once as one run and once as two runs (an ffmpeg restart in
   the middle), turned into the downloadable MP4 with ``remux_feed`` (the command the
   replay queue runs, niceness 10). Printed: wall time, speed (media seconds per wall
   second), MB/s read, ffmpeg CPU (% of one core over the wall time); then the
   thumbnail, time line and size measurements ``create_for_live`` does at the end of
   a live.
2. **Compose**: a host (1280x720) and two guests (1280x720, joining 5 s and 15 s in,
   leaving before the end) for ``--compose-seconds``, into the side-by-side MP4 with
   ``compose_side_by_side`` (encoded again: libx264 veryfast).
3. **Time line**: ``timeline_payload`` (what the replay player loads: the chat and the
   Q&A placed on the replay) for a live with ``--messages`` chat messages from 200
   people and 200 questions (50 answered), on a fresh SQLite database built by the
   migrations. Printed: cold and warm times, and the JSON size.

The inputs are made first by ffmpeg (not timed). Everything runs in a temporary folder
that is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from functools import partial
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import imageio_ffmpeg  # noqa: E402

from livelite.media import hls  # noqa: E402
from livelite.media import replay as replay_media  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
MB = 1024 * 1024


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sources(seconds: float, size: str = "1280x720", frequency: int = 440) -> list[str]:
    return [
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
        "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=48000",
        "-t", f"{seconds:.3f}",
    ]  # fmt: skip


ENCODE_720P = [
    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
    "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
    "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
    "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
]  # fmt: skip


def record_run(folder: Path, run: int, seconds: float) -> None:
    """One ffmpeg run of a feed, as ingest.FeedIngest writes it."""
    name = f"run-{run:04d}"
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            FFMPEG, "-v", "error", "-y", *sources(seconds), *ENCODE_720P,
            "-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4",
            "-hls_playlist_type", "event", "-hls_list_size", "0",
            "-hls_flags", "independent_segments",
            "-hls_fmp4_init_filename", f"{name}-init.mp4",
            "-hls_segment_filename", str(folder / f"{name}-%05d.m4s"),
            str(folder / f"{name}.m3u8"),
        ],
        check=True,
    )  # fmt: skip


def record_mp4(path: Path, seconds: float, frequency: int) -> None:
    subprocess.run(  # noqa: S603 - fixed arguments
        [FFMPEG, "-v", "error", "-y", *sources(seconds, frequency=frequency), *ENCODE_720P, str(path)],
        check=True,
    )


def timed(func, *args, **kwargs) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child processes) of one call."""
    cpu, start = children_cpu(), time.perf_counter()
    func(*args, **kwargs)
    return time.perf_counter() - start, children_cpu() - cpu


def bench_remux(work: Path, minutes: float) -> None:
    seconds = minutes * 60
    print(f"\n1. Remux of {minutes:g} min of 720p30 at ~2.5 Mbit/s into the downloadable MP4")
    for runs in (1, 2):
        folder = work / f"feed-{runs}"
        folder.mkdir()
        made = time.perf_counter()
        for run in range(1, runs + 1):
            record_run(folder, run, seconds / runs)
        media = hls.total_duration(folder)
        size = replay_media.directory_size(folder)
        print(
            f"   {runs} run(s): recording made in {time.perf_counter() - made:.0f} s "
            f"({media:.0f} s of media, {size / MB:.1f} MB, {size * 8 / media / 1000:.0f} kbit/s)"
        )
        target = work / f"feed-{runs}.mp4"
        wall, cpu = timed(replay_media.remux_feed, FFMPEG, folder, target, log_path=work / "ffmpeg.log")
        print(
            f"   {runs} run(s): remux {wall:.2f} s wall, speed {media / wall:.0f}x, "
            f"{size / MB / wall:.0f} MB/s, ffmpeg CPU {100 * cpu / wall:.0f}% of a core, "
            f"MP4 {target.stat().st_size / MB:.1f} MB"
        )
    folder = work / "feed-1"
    for label, func in (
        ("thumbnail (OpenCV)", replay_media.thumbnail),
        ("time line (mtimes)", replay_media.timeline),
        ("size (directory_size)", replay_media.directory_size),
        ("playlist (hls.compose, VOD)", partial(hls.compose, ended=True)),
    ):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            func(folder)
            times.append(time.perf_counter() - start)
        print(f"   {label}: {1000 * statistics.median(times):.1f} ms (median of 5)")


def bench_compose(work: Path, seconds: float) -> None:
    print(f"\n2. Side-by-side MP4 of a host and 2 guests for {seconds:g} s (1280x720, libx264 veryfast)")
    host, guest1, guest2 = work / "host.mp4", work / "guest1.mp4", work / "guest2.mp4"
    record_mp4(host, seconds, 440)
    record_mp4(guest1, max(1.0, seconds - 10), 660)
    record_mp4(guest2, max(1.0, seconds - 25), 880)
    target = work / "composed.mp4"
    wall, cpu = timed(
        replay_media.compose_side_by_side,
        FFMPEG,
        [(host, 0.0), (guest1, 5.0), (guest2, 15.0)],
        target,
        duration_s=seconds,
        log_path=work / "ffmpeg.log",
    )
    inputs = sum(p.stat().st_size for p in (host, guest1, guest2))
    print(
        f"   compose {wall:.1f} s wall, speed {seconds / wall:.2f}x, {inputs / MB / wall:.1f} MB/s read, "
        f"ffmpeg CPU {100 * cpu / wall:.0f}% of a core, MP4 {target.stat().st_size / MB:.1f} MB"
    )


def bench_timeline(work: Path, messages: int) -> None:
    print(f"\n3. Replay time line (timeline_payload) with {messages} chat messages and 200 questions")
    import flask_migrate
    from werkzeug import security

    from livelite import create_app
    from livelite.extensions import db
    from livelite.models import (
        ChatMessage,
        FeedSource,
        FileStatus,
        Question,
        QuestionStatus,
        Replay,
        ReplayFeed,
        Role,
    )
    from livelite.services import accounts, lives, replays

    instance = work / "instance"
    app = create_app({"INSTANCE_PATH": instance, "RATELIMIT_ENABLED": False})
    # Cheap password hashes: 200 accounts with scrypt would take half a minute.
    accounts.generate_password_hash = partial(security.generate_password_hash, method="pbkdf2:sha256:1")
    with app.app_context():
        with contextlib.redirect_stderr(io.StringIO()):  # alembic's log of each migration
            flask_migrate.upgrade()

        def person(username: str, role=Role.MEMBER):
            return accounts.register(
                username=username,
                display_name=username.title(),
                email=f"{username}@example.com",
                password=secrets.token_urlsafe(12),
                birth_date=date(1990, 1, 1),
                role=role,
                check_open=False,
            )

        host = person("host", Role.CREATOR)
        people = [person(f"viewer{i}") for i in range(200)]
        live = lives.start_live(host, title="An hour of questions")
        feed = lives.open_feed(live, host, source=FeedSource.RTMP, input_format="flv", video_codec="h264")
        live.started_at -= timedelta(hours=1)
        lives.end_live(live, "host")
        start = live.started_at.timestamp()
        # Two runs with a gap of 30 s (an encoder that reconnected), 3570 s on the replay.
        timeline = [
            {"wall_start": start + 1, "replay_start": 0.0, "duration": 1800.0},
            {"wall_start": start + 1831, "replay_start": 1800.0, "duration": 1770.0},
        ]
        hour_ms = 3_600_000
        db.session.add_all(
            ChatMessage(
                live_id=live.id,
                user_id=people[i % len(people)].id,
                body=f"Message {i}: what about the second example on the board?",
                offset_ms=i * hour_ms // messages,
            )
            for i in range(messages)
        )
        db.session.add_all(
            Question(
                live_id=live.id,
                user_id=people[(7 * i) % len(people)].id,
                body=f"Question {i}: could you explain step {i} again?",
                anonymous=i % 5 == 0,
                status=QuestionStatus.ANSWERED if i % 4 == 0 else QuestionStatus.OPEN,
                votes=i % 9,
                offset_ms=i * hour_ms // 200,
                answered_offset_ms=i * hour_ms // 200 + 60_000 if i % 4 == 0 else None,
            )
            for i in range(200)
        )
        replay = Replay(
            live_id=live.id, owner_id=host.id, title=live.title, duration_s=3570.0,
            files_dir="replays/bench", created_at=live.ended_at,
        )  # fmt: skip
        replay.feeds.append(
            ReplayFeed(
                feed_id=feed.id,
                user_id=host.id,
                is_main=True,
                media_dir=feed.media_dir,
                duration_s=3570.0,
                timeline=json.dumps(timeline),
                mp4_status=FileStatus.READY,
            )
        )
        db.session.add(replay)
        db.session.commit()
        replay_id = replay.id
    times, cpu = [], []
    for _ in range(6):
        with app.test_request_context("/"):  # as the player's route calls it (url_for, Babel)
            replay = db.session.get(Replay, replay_id)
            started, started_cpu = time.perf_counter(), time.process_time()
            payload = replays.timeline_payload(replay)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            db.session.remove()
    body = json.dumps(payload, separators=(",", ":")).encode()
    assert len(payload["chat"]) == messages and len(payload["chapters"]) == 50
    print(
        f"   first call {1000 * times[0]:.0f} ms, then {1000 * statistics.median(times[1:]):.0f} ms "
        f"(median of 5; CPU {1000 * statistics.median(cpu[1:]):.0f} ms); JSON {len(body) / MB:.2f} MB, {len(gzip.compress(body)) / MB:.2f} MB gzipped"
    )
    with app.app_context():
        db.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="media to remux")
    parser.add_argument("--compose-seconds", type=float, default=60.0)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; ffmpeg {FFMPEG}")
    work = Path(tempfile.mkdtemp(prefix="livelite-bench-replays-"))
    try:
        bench_remux(work, args.minutes)
        bench_compose(work, args.compose_seconds)
        bench_timeline(work, args.messages)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Real media for the live tests, made by the bundled ffmpeg, and ways to look at what
the app wrote (OpenCV decodes it). Plain functions: test modules import what they use.

``recording`` stands in for the browser's MediaRecorder: Matroska/WebM bytes with a
keyframe every second and one Cluster per keyframe, so ``clusters`` cuts it into the
one-second chunks a page would send. H.264 goes into ``-f matroska`` because ffmpeg
refuses H.264 in ``-f webm`` (Chromium's ``video/webm;codecs=h264`` is the same thing).
"""

from __future__ import annotations

import functools
import itertools
import subprocess
import time
from pathlib import Path

import cv2
import imageio_ffmpeg

from livelite.media import hls

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
WIDTH, HEIGHT = 320, 240
FPS = 20
CLUSTER_ID = b"\x1f\x43\xb6\x75"
H264_MIME = "video/webm;codecs=h264,opus"
VP8_MIME = "video/webm;codecs=vp8,opus"


def _sources(seconds: float, fps: int) -> list[str]:
    return [
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={WIDTH}x{HEIGHT}:rate={fps}",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        str(seconds),
    ]


@functools.cache
def recording(codec: str = "h264", seconds: int = 4, fps: int = FPS) -> bytes:
    """``seconds`` of test picture and tone as a browser records it (Opus audio).

    ``codec`` is ``h264`` (Matroska) or ``vp8`` (WebM). Cached: tests only read it.
    """
    if codec == "h264":
        video = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        container = "matroska"
    elif codec == "vp8":
        video = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k"]
        container = "webm"
    else:
        raise ValueError(codec)
    command = [
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "error",
        *_sources(seconds, fps),
        *video,
        "-g",
        str(fps),
        "-c:a",
        "libopus",
        # One cluster per keyframe, as MediaRecorder does with a 1 s keyframe interval.
        "-cluster_size_limit",
        "8000000",
        "-cluster_time_limit",
        "1100",
        "-f",
        container,
        "pipe:1",
    ]
    result = subprocess.run(command, capture_output=True, check=True, timeout=60)
    return result.stdout


def clusters(data: bytes) -> list[bytes]:
    """Cut a recording before each Cluster after the first: chunk 1 carries the header,
    every chunk starts with a keyframe, like MediaRecorder's ``start(1000)`` chunks."""
    starts = []
    index = data.find(CLUSTER_ID)
    while index >= 0:
        starts.append(index)
        index = data.find(CLUSTER_ID, index + 1)
    bounds = [0, *starts[1:], len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def rtmp_push(url: str, seconds: float, *, realtime: bool = False, fps: int = 25) -> subprocess.Popen:
    """An encoder (ffmpeg standing in for OBS) pushing H.264/AAC FLV to ``url``.

    ``realtime`` paces it like a camera; ``stop_push`` then ends it early, cleanly,
    as OBS's Stop Streaming does."""
    command = [
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "error",
        *(["-re"] if realtime else ["-nostdin"]),
        *_sources(seconds, fps),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(fps),
        "-c:a",
        "aac",
        "-f",
        "flv",
        url,
    ]
    stdin = subprocess.PIPE if realtime else subprocess.DEVNULL
    return subprocess.Popen(
        command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def stop_push(process: subprocess.Popen, timeout: float = 30) -> tuple[int, str]:
    """Press q in the encoder: it finishes the stream and unpublishes."""
    _out, err = process.communicate("q", timeout=timeout)
    return process.returncode, err


def finish_push(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    """Wait for an ``rtmp_push``; returns (exit code, what ffmpeg printed)."""
    _out, err = process.communicate(timeout=timeout)
    return process.returncode, err


def wait_for(predicate, timeout: float = 20, message: str = "condition not met", interval: float = 0.05):
    """Poll ``predicate`` until it returns something true; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (after {timeout} s)")
        time.sleep(interval)


def decode(path: Path) -> tuple[int, tuple[int, int] | None]:
    """Frames OpenCV decodes from a playlist or an MP4 file, and their (width, height)."""
    capture = cv2.VideoCapture(str(path))
    frames, size = 0, None
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames += 1
            size = (frame.shape[1], frame.shape[0])
    finally:
        capture.release()
    return frames, size


def decode_segment(init: bytes, segment: bytes, folder: Path) -> tuple[int, tuple[int, int] | None]:
    """OpenCV cannot open a bare .m4s: join it to its init segment first."""
    joined = folder / f"joined-{time.monotonic_ns()}.mp4"
    joined.write_bytes(init + segment)
    try:
        return decode(joined)
    finally:
        joined.unlink()


def video_codec_of_init(init: bytes) -> str | None:
    """The sample entry of the init segment's video track: avc1 is H.264."""
    for entry in (b"avc1", b"avc3", b"vp08", b"vp09", b"hev1", b"hvc1"):
        if entry in init:
            return entry.decode()
    return None


def playlist_uris(text: str) -> list[str]:
    """Segment and init URIs of a playlist, in order."""
    uris = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            uris.append(line.split('URI="', 1)[1].split('"', 1)[0])
        elif line and not line.startswith("#"):
            uris.append(line)
    return uris


def publish_recording(app, live_id: int, *, seconds: int = 3, finish: bool = True) -> int:
    """The host's browser feed of a live, filled by the real ingest with ``seconds`` of
    H.264; returns the feed id. ``finish`` stops ffmpeg once every segment is written
    (the live itself stays as it is); without it, ffmpeg keeps running and this returns
    once it has written all but the last second (which it holds until more comes)."""
    from livelite.models import FeedSource
    from livelite.services import lives

    media = app.extensions["livelite.media"]
    with app.app_context():
        live = lives.get_live(live_id)
        feed = lives.open_feed(
            live, live.host, source=FeedSource.BROWSER, input_format="webm", video_codec="h264"
        )
        media.start_ingest(feed)
        feed_id = feed.id
    for chunk in clusters(recording("h264", seconds=seconds)):
        media.write(feed_id, chunk)
    if finish:
        media.finish_feed(feed_id)
    else:
        folder = media.ingests[feed_id].out_dir
        wait_for(lambda: hls.total_duration(folder) >= seconds - 1, message="ffmpeg wrote no segments")
    return feed_id

"""Uploaded videos: probed with OpenCV, converted for the web by ffmpeg.

What a phone or a camera writes (HEVC in MOV, VP9 in WebM, 4K, odd pixel formats)
becomes one file every browser plays: H.264 (yuv420p, even dimensions, at most
MAX_SIDE pixels on the long side) and AAC in an MP4 whose index (``moov``) comes
before the media (``-movflags +faststart``), so playback starts before the whole
file has arrived. A source without sound gives a file without an audio track.

ffmpeg reports its position on ``-progress pipe:1``; ``convert`` turns that into a
percentage of the probed duration. Its stderr goes to a log file, never to an unread
pipe (MEDIA.md). Everything here blocks: under eventlet ``subprocess`` is patched, so
reading ffmpeg's pipe yields to the hub, and the OpenCV calls go through
``media.manager.run_blocking``.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import cv2

MAX_SIDE = 1080
THUMB_WIDTH = 720
# Headers of containers people upload videos in: a file that starts like one of these
# but cannot be opened is damaged, anything else is not a video at all.
VIDEO_SIGNATURES = (
    (4, b"ftyp"),  # MP4, MOV, 3GP, M4V
    (4, b"moov"),  # old QuickTime
    (4, b"mdat"),
    (4, b"wide"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"RIFF"),  # AVI (checked further below)
    (0, b"FLV"),
    (0, b"OggS"),
    (0, b"\x00\x00\x01\xba"),  # MPEG-PS
)
IMAGE_SIGNATURES = {
    "jpeg": (0, b"\xff\xd8\xff"),
    "png": (0, b"\x89PNG\r\n\x1a\n"),
    "gif": (0, b"GIF8"),
    "webp": (8, b"WEBP"),
    "bmp": (0, b"BM"),
    "heic": (4, b"ftypheic"),
}


class ConversionFailed(Exception):
    """ffmpeg did not produce a playable file; ``log_tail`` says why (for the logs)."""

    def __init__(self, message: str, log_tail: str = ""):
        super().__init__(message)
        self.log_tail = log_tail


@dataclass
class Probe:
    """What OpenCV could read from a file. ``ok`` means a first frame decoded."""

    opened: bool = False
    ok: bool = False
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frames: int = 0
    duration_s: float | None = None
    # A frame near the end decodes too: a cut-off upload whose index survived fails here.
    end_ok: bool = False


def sniff(head: bytes) -> str:
    """``"image:<format>"``, ``"video"`` or ``"unknown"`` from a file's first bytes."""
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "image:heic"
    for name, (offset, magic) in IMAGE_SIGNATURES.items():
        if head[offset : offset + len(magic)] == magic:
            if name == "webp" and head[:4] != b"RIFF":
                continue
            return f"image:{name}"
    for offset, magic in VIDEO_SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if magic == b"RIFF" and head[8:12] not in (b"AVI ", b"AVIX"):
                continue
            return "video"
    return "unknown"


def probe(path: str | os.PathLike) -> Probe:
    """Open a file with OpenCV: size, frame rate, duration from frames / fps, and
    whether the first frame and one near the end decode. Duration is None when the container does not say
    (WebM from MediaRecorder); ``media_duration`` then asks ffmpeg."""
    result = Probe()
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return result
        result.opened = True
        result.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        result.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        result.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        result.frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if result.fps > 0 and result.frames > 0 and result.fps < 1000:
            result.duration_s = result.frames / result.fps
        ok, frame = capture.read()
        result.ok = bool(ok) and frame is not None and frame.size > 0
        if result.ok and not (result.width and result.height):
            result.height, result.width = frame.shape[:2]
        if result.ok and result.frames > 1:
            capture.set(cv2.CAP_PROP_POS_FRAMES, max(0, result.frames - max(2, round(result.fps / 2))))
            ok, frame = capture.read()
            result.end_ok = bool(ok) and frame is not None
        else:
            result.end_ok = result.ok
    except cv2.error:
        result.ok = False
    finally:
        capture.release()
    return result


_TIME_RE = re.compile(r"time=(\d+):(\d\d):(\d\d(?:\.\d+)?)")
_DURATION_RE = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def _seconds(match: re.Match) -> float:
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def media_duration(ffmpeg: str, path: str | os.PathLike, timeout: float = 120) -> float | None:
    """Duration when OpenCV could not tell: the container's Duration line, else the
    last timestamp of the video track copied to nowhere (reads the file, decodes nothing)."""
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    text = result.stderr.decode(errors="replace")
    times = list(_TIME_RE.finditer(text))
    if times:
        return _seconds(times[-1])
    found = _DURATION_RE.search(text)
    return _seconds(found) if found else None


def describe(ffmpeg: str, path: str | os.PathLike) -> str:
    """``ffmpeg -i`` stderr: the stream lines (codec, size, audio). There is no ffprobe."""
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, timeout=60, check=False
    )
    return result.stderr.decode(errors="replace")


_STREAM_RE = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio|Subtitle|Data): (.*)$", re.M)


def stream_kinds(ffmpeg: str, path: str | os.PathLike) -> set[str]:
    """The kinds of stream ffmpeg finds in a file: ``video``, ``audio``, ``subtitle``,
    ``data`` (a cover picture in a sound file is not a video)."""
    return {
        kind.lower()
        for kind, rest in _STREAM_RE.findall(describe(ffmpeg, path))
        if not (kind == "Video" and "(attached pic)" in rest)
    }


def command(
    ffmpeg: str, source: Path, target: Path, *, start_s: float | None = None, length_s: float | None = None
) -> list[str]:
    """The conversion: H.264 + AAC (if any sound), long side at most MAX_SIDE, faststart.

    ``start_s``/``length_s`` keep only part of the source (a replay posted with a trim):
    seeking before ``-i`` is exact when re-encoding, and fast.
    """
    trim_in = ["-ss", f"{start_s:.3f}"] if start_s else []
    trim_out = ["-t", f"{length_s:.3f}"] if length_s else []
    scale = (
        f"scale='trunc(min(1,{MAX_SIDE}/max(iw,ih))*iw/2)*2':'trunc(min(1,{MAX_SIDE}/max(iw,ih))*ih/2)*2'"
        ":flags=bicubic,setsar=1"
    )
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "warning",
        "-progress",
        "pipe:1",
        "-y",
        *trim_in,
        "-i",
        str(source),
        *trim_out,
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-vf",
        scale,
        "-fpsmax",
        "60",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-maxrate",
        "5M",
        "-bufsize",
        "10M",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ac",
        "2",
        "-ar",
        "48000",
        "-map_metadata",
        "-1",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        str(target),
    ]


def position_s(block: dict[str, str]) -> float | None:
    """Where ffmpeg is, in seconds, from one ``-progress`` block."""
    for key in ("out_time_us", "out_time_ms"):  # both are microseconds (an old ffmpeg quirk)
        value = block.get(key, "")
        if value.lstrip("-").isdigit():
            return max(0, int(value)) / 1_000_000
    return None


def run_ffmpeg(
    argv: list[str],
    *,
    duration_s: float,
    log_path: Path,
    on_progress=None,
    on_start=None,
    timeout: float = 3600,
) -> int:
    """Run a background ffmpeg whose argv has ``-progress pipe:1``; its exit code.

    Niced, stderr appended to ``log_path``; ``on_progress(percent)`` gets 0–99 from its
    position against ``duration_s``; ``on_start(process)`` lets an owner kill it at
    shutdown; killed after ``timeout`` seconds (the code is then negative).
    """
    with log_path.open("ab") as log_file:
        log_file.write((" ".join(argv) + "\n").encode())
        log_file.flush()
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file
        )
    try:
        # Background work: lives being ingested and pages being served come first.
        os.setpriority(os.PRIO_PROCESS, process.pid, 10)
    except (AttributeError, OSError):  # pragma: no cover - not on every platform
        pass
    if on_start is not None:
        on_start(process)
    deadline = time.monotonic() + timeout
    try:
        block: dict[str, str] = {}
        for raw in process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            block[key] = value
            if key != "progress":
                continue
            position = position_s(block)
            if on_progress is not None and position is not None and duration_s > 0:
                on_progress(min(99.0, 100.0 * position / duration_s))
            block = {}
            if time.monotonic() > deadline:
                process.kill()
                break
        return process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def convert(
    ffmpeg: str,
    source: Path,
    target: Path,
    *,
    duration_s: float,
    log_path: Path,
    on_progress=None,
    on_start=None,
    timeout: float = 3600,
    start_s: float | None = None,
    length_s: float | None = None,
) -> None:
    """Convert ``source`` into ``target`` (written as ``target.part`` then renamed).

    ``on_progress(percent)`` gets 0–100 as ffmpeg advances (100 only once the file is
    complete); ``on_start(process)`` lets an owner kill ffmpeg at shutdown. Raises
    ConversionFailed with the end of ffmpeg's log. ``start_s``/``length_s``: see command.
    """
    partial = target.with_name(target.name + ".part")
    code = run_ffmpeg(
        command(ffmpeg, source, partial, start_s=start_s, length_s=length_s),
        duration_s=duration_s,
        log_path=log_path,
        on_progress=on_progress,
        on_start=on_start,
        timeout=timeout,
    )
    if code != 0 or not partial.exists() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        raise ConversionFailed(f"ffmpeg exited with {code}", log_tail(log_path))
    os.replace(partial, target)
    if on_progress is not None:
        on_progress(100.0)


def log_tail(path: Path, size: int = 2000, start: int = 0) -> str:
    """The last ``size`` bytes of a log, counting only what was written after ``start``
    (the log is appended to by every run: an older run's error is not this one's)."""
    try:
        with path.open("rb") as log_file:
            log_file.seek(max(start, log_file.seek(0, os.SEEK_END) - size))
            data = log_file.read()
    except OSError:
        return ""
    return data.decode(errors="replace")


def thumbnail(path: str | os.PathLike, duration_s: float | None, width: int = THUMB_WIDTH) -> bytes | None:
    """A JPEG of a frame a little into the video (the very first is often black)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        if duration_s and duration_s > 1:
            capture.set(cv2.CAP_PROP_POS_MSEC, min(1000.0, duration_s * 1000 / 4))
        ok, frame = capture.read()
        if not ok or frame is None:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        return None
    height, src_width = frame.shape[:2]
    if src_width > width:
        frame = cv2.resize(frame, (width, round(height * width / src_width)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 82])
    return encoded.tobytes() if ok else None

"""Test media for short videos and stories, made by the bundled ffmpeg (lavfi
testsrc2 + sine), and ways to look at what the conversion wrote. Plain functions;
clips are cached per session, tests only read them."""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
from media_support import FFMPEG

_FOLDER = Path(tempfile.mkdtemp(prefix="livelite-test-clips-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)


@functools.cache
def clip(
    seconds: float = 3,
    size: str = "320x240",
    *,
    fps: int = 25,
    audio: bool = True,
    codec: str = "libx264",
    container: str = "mp4",
    pix_fmt: str = "yuv420p",
) -> bytes:
    """``seconds`` of test picture (and a tone), as a file a phone might upload.

    The default is not faststart (moov after mdat), so the conversion's own
    faststart is what a test sees.
    """
    target = _FOLDER / f"clip-{seconds}-{size}-{fps}-{audio}-{codec}-{container}-{pix_fmt}.{container}"
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    video = ["-c:v", codec]
    if codec == "libx264":
        video += ["-preset", "ultrafast"]
    elif codec == "libvpx":
        video += ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"]
    command = [
        FFMPEG,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        *inputs,
        "-t",
        str(seconds),
        *video,
        "-pix_fmt",
        pix_fmt,
        *(["-c:a", "libopus" if container == "webm" else "aac"] if audio else []),
        str(target),
    ]
    subprocess.run(command, capture_output=True, check=True, timeout=120)
    return target.read_bytes()


def png_bytes(width: int = 200, height: int = 120) -> bytes:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, :, 2] = 200
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def ffmpeg_info(path: Path) -> str:
    """``ffmpeg -i`` stderr: there is no ffprobe in imageio-ffmpeg."""
    result = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, timeout=60)
    return result.stderr.decode(errors="replace")


def stream_lines(info: str) -> dict[str, str]:
    """{"Video": "...", "Audio": "..."} from ``ffmpeg -i`` output."""
    found = {}
    for match in re.finditer(r"Stream #\d+:\d+[^:]*: (Video|Audio): (.*)", info):
        found.setdefault(match.group(1), match.group(2))
    return found


def decoded(path: Path) -> tuple[int, float, int, int]:
    """Frames OpenCV decodes, the duration (frames / fps), width and height."""
    capture = cv2.VideoCapture(str(path))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames = 0
        while True:
            ok, _frame = capture.read()
            if not ok:
                break
            frames += 1
    finally:
        capture.release()
    return frames, (frames / fps if fps else 0.0), width, height


def top_level_boxes(data: bytes) -> list[str]:
    """The MP4's top-level box types in file order (ftyp, moov, mdat...)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        elif size == 0:
            size = len(data) - offset
        boxes.append(kind)
        if size < 8:
            break
        offset += size
    return boxes

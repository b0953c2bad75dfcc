"""Preview images of a live, cut from its newest HLS segment with OpenCV."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2

PREVIEW_WIDTH = 640


def frame_from_segment(init: Path, segment: Path) -> bytes | None:
    """A JPEG of the first frame of ``segment``; None if nothing can be decoded.

    OpenCV cannot open a bare .m4s (MEDIA.md), so init + segment are joined into one
    temporary fragmented MP4 first. This blocks for ~50 ms: call it off the event loop.
    """
    try:
        data = init.read_bytes() + segment.read_bytes()
    except FileNotFoundError:
        return None
    with tempfile.NamedTemporaryFile(suffix=".mp4") as tmp:
        tmp.write(data)
        tmp.flush()
        capture = cv2.VideoCapture(tmp.name)
        try:
            ok, frame = capture.read()
        finally:
            capture.release()
    if not ok or frame is None:
        return None
    height, width = frame.shape[:2]
    if width > PREVIEW_WIDTH:
        frame = cv2.resize(
            frame, (PREVIEW_WIDTH, round(height * PREVIEW_WIDTH / width)), interpolation=cv2.INTER_AREA
        )
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return encoded.tobytes() if ok else None

"""Preview images of a live, cut from its newest HLS segment with OpenCV."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2

PREVIEW_WIDTH = 640


def frame_from_segment(
    init: Path, segment: Path, *, width: int = PREVIEW_WIDTH, skip_s: float = 0.0
) -> bytes | None:
    """A JPEG of the first frame of ``segment`` (or the one ``skip_s`` seconds into it, for
    a replay's thumbnail), at most ``width`` wide; None if nothing can be decoded.

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
            first_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
            # Decoding on is cheap for one segment; seeking inside a fragment is not reliable.
            while ok and capture.get(cv2.CAP_PROP_POS_MSEC) - first_ms < skip_s * 1000:
                more, later = capture.read()
                if not more or later is None:
                    break
                frame = later
        finally:
            capture.release()
    if not ok or frame is None:
        return None
    height, frame_width = frame.shape[:2]
    if frame_width > width:
        frame = cv2.resize(frame, (width, round(height * width / frame_width)), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return encoded.tobytes() if ok else None

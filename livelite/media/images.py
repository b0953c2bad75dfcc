"""Images uploaded by people (avatars, later covers), decoded and re-encoded with OpenCV.

Re-encoding is the point: whatever arrives (EXIF with GPS, a polyglot file, odd
colour depths), what we store and serve is a plain JPEG we produced ourselves.
"""

from __future__ import annotations

import os

# OpenCV reads this limit once, when the library loads; it guards against images whose
# header promises billions of pixels (a "decompression bomb") before any memory is taken.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(50_000_000))

import cv2
import numpy as np
from flask_babel import format_decimal
from flask_babel import gettext as _

from livelite.services.errors import ValidationFailed


def decode_image(data: bytes, *, field: str, max_bytes: int, max_pixels: int) -> np.ndarray:
    """Decode bytes into a BGR image, refusing what is empty, too big or not an image."""
    if not data:
        raise ValidationFailed({field: [_("The file is empty.")]})
    if len(data) > max_bytes:
        raise ValidationFailed(
            {field: [_("The image is too large (%(size)s at most).", size=_size(max_bytes))]}
        )
    declared = declared_size(data)
    if declared is not None and declared[0] * declared[1] > max_pixels:
        # Refused on the header's word, before OpenCV allocates anything (whatever its
        # own limit, which depends on which module loaded it first).
        raise ValidationFailed({field: [_("The image has too many pixels.")]})
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise ValidationFailed(
            {field: [_("This file is not an image we can read. Use a JPEG, PNG or WebP picture.")]}
        )
    height, width = image.shape[:2]
    if width * height > max_pixels:
        raise ValidationFailed({field: [_("The image has too many pixels.")]})
    return _to_bgr(image)


# JPEG start-of-frame markers (baseline, progressive, lossless…), which carry the size.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as the file's header states it, for PNG, JPEG, WebP, GIF and
    BMP; None for anything else or a header too short to say."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"BM" and len(data) >= 26:
        if int.from_bytes(data[14:18], "little") == 12:  # the old OS/2 header: 16-bit sizes
            return int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = int.from_bytes(data[22:26], "little", signed=True)  # negative: top-down
        return abs(width), abs(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        if chunk == b"VP8 ":
            width, height = int.from_bytes(data[26:28], "little"), int.from_bytes(data[28:30], "little")
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        return None
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG's segments up to the first start-of-frame."""
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_SOF:
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            at += 2
            continue
        if marker == 0xDA:  # the image data starts: no frame header before it
            return None
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def _size(n: int) -> str:
    """A byte count as people read it: 5 MB, 512 KB."""
    if n >= 1024 * 1024:
        return _("%(n)s MB", n=format_decimal(round(n / (1024 * 1024), 1)))
    return _("%(n)s KB", n=format_decimal(max(1, n // 1024)))


def _to_bgr(image: np.ndarray) -> np.ndarray:
    """Normalise depth and channels; transparent areas become white, not black."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        bgr = image[:, :, :3].astype(np.float32)
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        return (bgr * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return image[:, :, :3]


def square_jpeg(image: np.ndarray, size: int, quality: int = 88) -> bytes:
    """Centre-crop to a square, resize to ``size`` and encode as a metadata-free JPEG."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    resized = cv2.resize(square, (size, size), interpolation=interpolation)
    ok, encoded = cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid BGR uint8 array
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def cover_jpeg(image: np.ndarray, width: int = 1280, quality: int = 85) -> bytes:
    """Centre-crop to 16:9 and resize to ``width`` (never upscaled past the source)."""
    height, src_width = image.shape[:2]
    target_ratio = 16 / 9
    if src_width / height > target_ratio:
        crop_w, crop_h = round(height * target_ratio), height
    else:
        crop_w, crop_h = src_width, round(src_width / target_ratio)
    left, top = (src_width - crop_w) // 2, (height - crop_h) // 2
    cropped = image[top : top + crop_h, left : left + crop_w]
    out_w = min(width, crop_w)
    out_h = round(out_w / target_ratio)
    resized = cv2.resize(cropped, (out_w, out_h), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid BGR uint8 array
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def fit_jpeg(image: np.ndarray, max_side: int, quality: int = 85) -> bytes:
    """Scale down (never up) so the long side is at most ``max_side``; a plain JPEG."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid BGR uint8 array
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()

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

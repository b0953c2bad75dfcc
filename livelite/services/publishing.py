"""The browser publisher's byte stream: in order, without gaps or repeats.

MediaRecorder chunks are numbered by the page (``seq`` from 1 per recorder). Each is
acknowledged; after a network drop the page resends what was not acknowledged, so a
chunk may arrive twice but must never be written twice or skipped, or ffmpeg would
get a corrupt stream. A new recorder (the page reloaded) starts a new ffmpeg run.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from flask_babel import gettext as _

from livelite.models import FeedSource
from livelite.services import lives
from livelite.services.errors import DomainError, PermissionDenied, ValidationFailed

MAX_CHUNK_BYTES = 4 * 1024 * 1024
MIME_RE = re.compile(r"^video/(webm|x-matroska);\s*codecs=\"?([a-z0-9.]+)(?:,\s*([a-z0-9.]+))?\"?$", re.I)
VIDEO_CODECS = {"h264": "h264", "avc1": "h264", "vp8": "vp8", "vp9": "vp9", "vp09": "vp9"}


def parse_mime(mime: str) -> str:
    """The video codec of a MediaRecorder MIME type we accept, else a clear error."""
    match = MIME_RE.match((mime or "").strip())
    codec = None
    if match:
        first = match.group(2).lower().split(".")[0]
        codec = VIDEO_CODECS.get(first)
    if codec is None:
        raise ValidationFailed({"mime": [_("Record WebM with H.264, VP8 or VP9 video.")]})
    return codec


@dataclass
class PublishState:
    feed_id: int
    live_id: int
    user_id: int
    recorder_id: str
    last_seq: int = 0
    health_sent: float = 0.0


class PublishRegistry:
    """Which connection publishes which feed, and how far its stream got."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_feed: dict[int, PublishState] = {}
        self._sid_feed: dict[str, int] = {}
        self._ended_lives: dict[int, str] = {}

    def attach(self, sid: str, state: PublishState) -> tuple[PublishState, bool]:
        """Register ``sid`` as the feed's publisher; returns (state, new_recorder)."""
        with self._lock:
            known = self._by_feed.get(state.feed_id)
            for old_sid, feed_id in list(self._sid_feed.items()):
                if feed_id == state.feed_id:
                    del self._sid_feed[old_sid]
            self._sid_feed[sid] = state.feed_id
            if known is not None and known.recorder_id == state.recorder_id:
                return known, False
            self._by_feed[state.feed_id] = state
            return state, True

    def for_sid(self, sid: str, feed_id: int) -> PublishState:
        with self._lock:
            state = self._by_feed.get(feed_id)
            if state is not None and state.live_id in self._ended_lives:
                raise LiveEnded(self._ended_lives[state.live_id])
            if self._sid_feed.get(sid) != feed_id:
                raise PermissionDenied(_("This connection does not publish that feed."))
            return self._by_feed[feed_id]

    def detach(self, sid: str) -> None:
        with self._lock:
            self._sid_feed.pop(sid, None)

    def live_ended(self, live_id: int, reason: str = "host") -> None:
        """Later chunks for this live get a final answer that says why (host, admin, disk)."""
        with self._lock:
            self._ended_lives[live_id] = reason


def start(user, live_id: int, mime: str, recorder_id: str, media, registry: PublishRegistry, sid: str):
    """Begin or resume publishing the user's feed of a live; returns the state."""
    if not user or not user.is_authenticated:
        raise PermissionDenied(_("Log in to go live."))
    recorder_id = str(recorder_id or "")[:64]
    if not recorder_id:
        raise ValidationFailed({"recorder_id": [_("Missing recorder id.")]})
    live = lives.get_live(int(live_id))
    if live.host_id != user.id:
        raise PermissionDenied(_("Only the host publishes to this live."))
    codec = parse_mime(mime)
    feed = lives.open_feed(live, user, source=FeedSource.BROWSER, input_format="webm", video_codec=codec)
    state, new_recorder = registry.attach(
        sid, PublishState(feed_id=feed.id, live_id=live.id, user_id=user.id, recorder_id=recorder_id)
    )
    media.start_ingest(feed, new_recorder=new_recorder)
    return state


def chunk(sid: str, feed_id, seq, data, media, registry: PublishRegistry, max_kbps: int) -> PublishState:
    """Write one chunk if it is the next one; repeats are acknowledged and dropped."""
    if not isinstance(data, bytes | bytearray) or not isinstance(seq, int) or not isinstance(feed_id, int):
        raise ValidationFailed({"chunk": [_("A chunk needs feed_id, seq and binary data.")]})
    if len(data) > MAX_CHUNK_BYTES:
        raise ValidationFailed({"chunk": [_("A chunk is larger than 4 MB; lower the bitrate.")]})
    state = registry.for_sid(sid, feed_id)
    if seq <= state.last_seq:
        return state  # a resend after a reconnect: already written
    if seq != state.last_seq + 1:
        raise OutOfOrder(state.last_seq)
    media.write(feed_id, bytes(data), max_kbps)
    state.last_seq = seq
    return state


class LiveEnded(DomainError):
    """The live is over; the page stops recording and shows why."""

    status = 410

    def __init__(self, reason: str):
        super().__init__(lives.end_message(reason))
        self.code = reason


class OutOfOrder(DomainError):
    """A gap: the page must resend from ``last_seq + 1``."""

    status = 409

    def __init__(self, last_seq: int):
        super().__init__(_("A chunk is missing; resend from %(n)s.", n=last_seq + 1))
        self.last_seq = last_seq

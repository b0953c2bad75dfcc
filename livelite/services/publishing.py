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
from flask_babel import lazy_gettext as _l

from livelite.media.ingest import IngestFailed
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
    # A guest's feed (not the host's): its failures stop that feed only, not the live.
    guest: bool = False


class PublishRegistry:
    """Which connection publishes which feed, and how far its stream got."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_feed: dict[int, PublishState] = {}
        self._sid_feed: dict[str, int] = {}
        self._ended_lives: dict[int, str] = {}
        # Guests' feeds stopped while the live goes on (removed, left): feed id → code.
        self._stopped_feeds: dict[int, str] = {}

    def attach(self, sid: str, state: PublishState) -> tuple[PublishState, bool]:
        """Register ``sid`` as the feed's publisher; returns (state, new_recorder)."""
        with self._lock:
            known = self._by_feed.get(state.feed_id)
            for old_sid, feed_id in list(self._sid_feed.items()):
                if feed_id == state.feed_id:
                    del self._sid_feed[old_sid]
            self._sid_feed[sid] = state.feed_id
            self._stopped_feeds.pop(state.feed_id, None)  # back on stage: publishing again
            if known is not None and known.recorder_id == state.recorder_id:
                return known, False
            self._by_feed[state.feed_id] = state
            return state, True

    def for_sid(self, sid: str, feed_id: int) -> PublishState:
        with self._lock:
            state = self._by_feed.get(feed_id)
            if state is not None and state.live_id in self._ended_lives:
                raise LiveEnded(self._ended_lives[state.live_id], guest=state.guest)
            if feed_id in self._stopped_feeds:
                raise FeedStopped(self._stopped_feeds[feed_id])
            if self._sid_feed.get(sid) != feed_id:
                raise PermissionDenied(_("This connection does not publish that feed."))
            return self._by_feed[feed_id]

    def detach(self, sid: str) -> None:
        with self._lock:
            self._sid_feed.pop(sid, None)

    def stop_feed(self, feed_id: int, code: str) -> None:
        """Later chunks for this feed get a final answer that says why (removed, left,
        lost, bitrate, ingest_failed); the live itself goes on."""
        with self._lock:
            self._stopped_feeds[feed_id] = code

    def live_ended(self, live_id: int, reason: str = "host") -> None:
        """Later chunks for this live get a final answer that says why (host, admin, disk)."""
        with self._lock:
            self._ended_lives[live_id] = reason


def start(user, live_id: int, mime: str, recorder_id: str, media, registry: PublishRegistry, sid: str):
    """Begin or resume publishing the user's feed of a live; returns the state.

    The host publishes the main feed; a guest on stage (services.guests) publishes a
    feed of their own, an extra feed of the same live. When a feed comes on (not a
    reconnect of one already running) everyone in the live is told (``feeds``).
    """
    from livelite.services import guests

    if not user or not user.is_authenticated:
        raise PermissionDenied(_("Log in to go live."))
    recorder_id = str(recorder_id or "")[:64]
    if not recorder_id:
        raise ValidationFailed({"recorder_id": [_("Missing recorder id.")]})
    live = lives.get_live(int(live_id))
    is_guest = live.host_id != user.id
    if is_guest and not guests.may_publish(live, user):
        raise PermissionDenied(guests.publish_refusal(live, user))
    codec = parse_mime(mime)
    was_on = any(feed.active and feed.user_id == user.id for feed in live.feeds)
    feed = lives.open_feed(live, user, source=FeedSource.BROWSER, input_format="webm", video_codec=codec)
    state, new_recorder = registry.attach(
        sid,
        PublishState(
            feed_id=feed.id, live_id=live.id, user_id=user.id, recorder_id=recorder_id, guest=is_guest
        ),
    )
    media.start_ingest(feed, new_recorder=new_recorder)
    if not was_on:
        guests.feed_started(live)
    return state


def chunk(sid: str, feed_id, seq, data, media, registry: PublishRegistry, max_kbps: int) -> PublishState:
    """Write one chunk if it is the next one; repeats are acknowledged and dropped."""
    if not isinstance(data, bytes | bytearray) or not isinstance(seq, int) or not isinstance(feed_id, int):
        raise ValidationFailed({"chunk": [_("A chunk needs feed_id, seq and binary data.")]})
    if len(data) > MAX_CHUNK_BYTES:
        raise ValidationFailed({"chunk": [_("A chunk is larger than 4 MB; lower the bitrate.")]})
    state = registry.for_sid(sid, feed_id)
    if state.guest:
        _check_guest(state, media, registry)
    if seq <= state.last_seq:
        return state  # a resend after a reconnect: already written
    if seq != state.last_seq + 1:
        raise OutOfOrder(state.last_seq)
    try:
        media.write(feed_id, bytes(data), max_kbps)
    except IngestFailed:
        # The guest was taken off the stage while this chunk was on its way: their
        # ingest is gone on purpose, which is no reason to end the live.
        registry.for_sid(sid, feed_id)
        raise
    state.last_seq = seq
    return state


def _check_guest(state: PublishState, media, registry: PublishRegistry) -> None:
    """A guest removed or gone through another process (the API, another worker) has
    their feed closed in the database: stop here too, and finish the files this
    process was writing for them."""
    from livelite.services import guests

    live = lives.get_live(state.live_id)
    code = guests.stop_code(live, state.user_id)
    if code is not None:
        registry.stop_feed(state.feed_id, code)
        media.finish_feed(state.feed_id)
        raise FeedStopped(code)


def feed_failed(state: PublishState, reason: str, media, registry: PublishRegistry) -> DomainError:
    """The ingest refused or lost a feed (``bitrate``, ``ingest_failed``): the host's
    ends the live; a guest's stops that feed only. Returns the final answer to send."""
    from livelite.services import guests

    if not state.guest:
        media.end_live(state.live_id, reason)
        return LiveEnded(reason)
    registry.stop_feed(state.feed_id, reason)
    guests.feed_failed(lives.get_live(state.live_id), state.user_id, reason)
    return FeedStopped(reason)


class LiveEnded(DomainError):
    """The live is over; the page stops recording and shows why."""

    status = 410

    def __init__(self, reason: str, *, guest: bool = False):
        # The reasons speak to the host ("your live"); a guest is told the live is over.
        super().__init__(_("This live has ended.") if guest else lives.end_message(reason))
        self.code = reason


# Why a guest's feed stopped while the live goes on, told to the guest's page.
FEED_STOP_REASONS = {
    "removed": _l("The host removed you from the stage."),
    "left": _l("You left the stage."),
    "bitrate": _l("Your video went over this site’s bitrate limit, so it stopped."),
    "ingest_failed": _l("The server could not process your video, so it stopped."),
    "lost": _l("Your connection was gone too long, so your video stopped. Start it again when you are back."),
}


class FeedStopped(DomainError):
    """A guest's feed is over (removed, left, a limit): the page stops and says why."""

    status = 410

    def __init__(self, code: str):
        super().__init__(str(FEED_STOP_REASONS.get(code, FEED_STOP_REASONS["left"])))
        self.code = code


class OutOfOrder(DomainError):
    """A gap: the page must resend from ``last_seq + 1``."""

    status = 409

    def __init__(self, last_seq: int):
        super().__init__(_("A chunk is missing; resend from %(n)s.", n=last_seq + 1))
        self.last_seq = last_seq

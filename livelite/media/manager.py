"""The media side of lives in this process: ingests, the RTMP listener, the media tick.

One ``LiveMedia`` per app (``app.extensions["livelite.media"]``) owns every running
ffmpeg, so there is one place that starts, restarts and stops them, and one clean-up
path (``shutdown``). Ingest belongs to a single process (docs: scaling out).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from flask import Flask

from livelite.media import hls
from livelite.media.ingest import FeedIngest, IngestFailed
from livelite.media.rtmp import PublishRefused, RtmpServer

log = logging.getLogger("livelite.media")

# Below this much free disk a running live is stopped while its files are still whole.
DISK_FLOOR_BYTES = 200 * 1024 * 1024
BITRATE_TOLERANCE = 1.25


class IngestRejected(Exception):
    """The publisher broke a limit (bitrate); the live stops with ``reason``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def ffmpeg_path(app: Flask) -> str:
    configured = app.config.get("FFMPEG_PATH")
    if configured:
        return configured
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def limit_blocking_threads(count: int) -> None:
    """How many threads ``run_blocking`` may use (before its first call)."""
    import eventlet.patcher

    if eventlet.patcher.is_monkey_patched("thread"):
        from eventlet import tpool

        tpool.set_num_threads(max(1, count))


def run_blocking(func, *args):
    """Run CPU work off the event loop under eventlet, directly otherwise."""
    try:
        import eventlet.patcher

        if eventlet.patcher.is_monkey_patched("thread"):
            from eventlet import tpool

            return tpool.execute(func, *args)
    except ImportError:  # pragma: no cover - eventlet is a dependency
        pass
    return func(*args)


class LiveMedia:
    def __init__(self, app: Flask):
        self.app = app
        self.ingests: dict[int, FeedIngest] = {}
        self.feed_live: dict[int, int] = {}
        self.last_data: dict[int, float] = {}
        self.last_preview: dict[int, float] = {}
        self.rtmp_publishers: set[int] = set()
        self.lock = threading.RLock()
        self.rtmp: RtmpServer | None = None
        # Callables (event, live_id, payload). Events: live_started, preview, and
        # live_ended — sent once the feeds' ffmpeg have finished and the live is marked
        # ended: the hook the realtime layer and the replay archive subscribe to.
        self.listeners: list = []

    # -- paths ------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.app.config["MEDIA_ROOT"])

    def feed_dir(self, feed) -> Path:
        return self.root / feed.media_dir

    def notify(self, event: str, live_id: int, payload: dict) -> None:
        for listener in self.listeners:
            try:
                listener(event, live_id, payload)
            except Exception:
                log.exception("media listener failed for %s", event)

    # -- feeds ------------------------------------------------------------------
    def start_ingest(self, feed, *, new_recorder: bool = False) -> FeedIngest:
        """Make sure the feed has an ingest; a new recorder starts a new run."""
        with self.lock:
            ingest = self.ingests.get(feed.id)
            if ingest is not None and not ingest.closed:
                if new_recorder:
                    ingest.new_run()
                    ingest.video_codec = feed.video_codec
            else:
                started = feed.live.started_at.timestamp() if feed.live.started_at else time.time()
                ingest = FeedIngest(
                    self.feed_dir(feed),
                    input_format=feed.input_format,
                    video_codec=feed.video_codec,
                    ffmpeg=ffmpeg_path(self.app),
                    segment_seconds=int(self.app.config["SEGMENT_SECONDS"]),
                    started_at=started,
                )
                self.ingests[feed.id] = ingest
            self.feed_live[feed.id] = feed.live_id
            self.last_data[feed.id] = time.monotonic()
            return ingest

    def write(self, feed_id: int, data: bytes, max_kbps: int | None = None) -> None:
        """Pass publisher bytes to the feed's ffmpeg; raises IngestFailed/IngestRejected."""
        ingest = self.ingests.get(feed_id)
        if ingest is None or ingest.closed:
            raise IngestFailed("no ingest running for this feed")
        self.last_data[feed_id] = time.monotonic()
        ingest.write(data)
        rate = ingest.media_bitrate_kbps() if max_kbps else None
        if rate is not None and rate > max_kbps * BITRATE_TOLERANCE:
            raise IngestRejected("bitrate")

    def finish_feed(self, feed_id: int) -> None:
        with self.lock:
            ingest = self.ingests.pop(feed_id, None)
            self.last_data.pop(feed_id, None)
            self.feed_live.pop(feed_id, None)
        if ingest is not None:
            ingest.finish()

    def stop_publishing(self, feed_id: int, code: str) -> None:
        """Refuse the publisher's next chunks (``code`` says why), then let ffmpeg finish
        the files of what was sent."""
        # Refused first, so that a chunk arriving meanwhile gets a clear answer instead
        # of an ingest error (which would end the whole live).
        self.app.extensions["livelite.publishing"].stop_feed(feed_id, code)
        self.finish_feed(feed_id)

    def health(self, feed_id: int) -> dict | None:
        ingest = self.ingests.get(feed_id)
        return ingest.health.as_dict() if ingest is not None else None

    def end_live(self, live_id: int, reason: str) -> None:
        """Finish every feed's ffmpeg, then mark the live ended. Safe to call twice."""
        from livelite.services import lives

        with self.app.app_context():
            live = lives.get_live(live_id)
            feed_ids = [feed.id for feed in live.feeds]
        for feed_id in feed_ids:
            self.finish_feed(feed_id)
        with self.app.app_context():
            live = lives.get_live(live_id)
            already = not live.is_live
            lives.end_live(live, reason)
        self.last_preview.pop(live_id, None)
        if not already:
            self.notify("live_ended", live_id, {"reason": reason})

    # -- RTMP -------------------------------------------------------------------
    def start_rtmp(self) -> int:
        config = self.app.config
        self.rtmp = RtmpServer(config["RTMP_HOST"], int(config["RTMP_PORT"]), self.authorize_rtmp)
        return self.rtmp.start()

    def authorize_rtmp(self, app_name: str, key: str, peer: str):
        """Check the key before any media: known key, allowed to go live, not in use."""
        from livelite.models import FeedSource
        from livelite.services import lives, policy
        from livelite.services.errors import DomainError
        from livelite.services.settings import get_setting

        with self.app.app_context():
            user = lives.user_for_stream_key(key)
            if user is None:
                raise PublishRefused("unknown stream key")
            with self.lock:
                if user.id in self.rtmp_publishers:
                    raise PublishRefused(f"stream key of @{user.username} already in use")
                self.rtmp_publishers.add(user.id)
            try:
                live = lives.active_live_of(user)
                if live is None:
                    title = f"{user.display_name} LIVE"
                    live = lives.start_live(user, title=title)
                    self.notify("live_started", live.id, {})
                elif not policy.may_go_live(user):
                    raise PublishRefused(f"@{user.username} may not go live")
                feed = lives.open_feed(
                    live, user, source=FeedSource.RTMP, input_format="flv", video_codec=None
                )
                self.start_ingest(feed, new_recorder=True)
                max_kbps = get_setting("MAX_INGEST_KBPS")
                log.info("rtmp %s: @%s publishing to live %s feed %s", peer, user.username, live.id, feed.id)
                return _RtmpSink(self, feed.id, live.id, user.id, max_kbps)
            except DomainError as exc:
                self.rtmp_publishers.discard(user.id)
                raise PublishRefused(f"@{user.username}: {exc.message}") from None
            except BaseException:
                self.rtmp_publishers.discard(user.id)
                raise

    # -- the tick ---------------------------------------------------------------
    def tick(self) -> None:
        """Every couple of seconds: publisher-loss grace, disk floor, previews."""
        from livelite.services import lives
        from livelite.services.settings import get_setting

        with self.app.app_context():
            current = [
                (
                    live.id,
                    [f.id for f in live.feeds],
                    live.started_at,
                    [f.id for f in live.feeds if f.user_id == live.host_id],
                )
                for live in lives.current_lives(1000)
            ]
            grace = get_setting("PUBLISHER_GRACE_SECONDS")
        disk_low = self._disk_free() < DISK_FLOOR_BYTES
        now = time.monotonic()
        for live_id, feed_ids, started_at, host_feed_ids in current:
            if disk_low:
                log.error("live %s: disk almost full, stopping it", live_id)
                self.end_live(live_id, "disk_full")
                continue
            # The host's feeds only: guests still sending do not keep a host-less live going.
            seen = [self.last_data[f] for f in host_feed_ids if f in self.last_data]
            if seen:
                silent_for = now - max(seen)
            else:
                # Nothing of this live runs here (a restart, or a publisher that never sent).
                silent_for = time.time() - (started_at.timestamp() if started_at else 0)
            if silent_for > grace:
                log.info("live %s: no publisher for %.0f s, ending it", live_id, silent_for)
                self.end_live(live_id, "publisher_lost")
                continue
            self._save_health(feed_ids)
            self._maybe_preview(live_id, feed_ids)

    def _save_health(self, feed_ids: list[int]) -> None:
        """Keep the last health figures and the detected codec on the feed rows, for
        pages and processes that do not hold the ingest (admin monitor, API)."""
        import json

        from livelite.extensions import db
        from livelite.models import Feed

        running = [(f, self.ingests[f]) for f in feed_ids if f in self.ingests]
        if not running:
            return
        with self.app.app_context():
            for feed_id, ingest in running:
                feed = db.session.get(Feed, feed_id)
                if feed is None:
                    continue
                feed.health = json.dumps(ingest.health.as_dict())
                if ingest.video_codec and feed.video_codec != ingest.video_codec:
                    feed.video_codec = ingest.video_codec
            db.session.commit()

    def _disk_free(self) -> int:
        import shutil

        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free

    def _maybe_preview(self, live_id: int, feed_ids: list[int]) -> None:
        interval = float(self.app.config["PREVIEW_INTERVAL_S"])
        if time.monotonic() - self.last_preview.get(live_id, 0) < interval or not feed_ids:
            return
        self.last_preview[live_id] = time.monotonic()
        self.make_preview(live_id)

    def make_preview(self, live_id: int) -> bool:
        """Cut a JPEG from the newest segment of the host's feed; True if one was made."""
        from livelite.extensions import db
        from livelite.media.previews import frame_from_segment
        from livelite.services import lives

        with self.app.app_context():
            live = lives.get_live(live_id)
            feed = live.main_feed
            if feed is None or not feed.media_dir:
                return False
            newest = hls.newest_segment(self.feed_dir(feed))
            if newest is None:
                return False
            jpeg = run_blocking(frame_from_segment, *newest)
            if jpeg is None:
                return False
            relative = f"lives/{live_id}/preview.jpg"
            target = self.root / relative
            tmp = target.with_suffix(".jpg.part")
            tmp.write_bytes(jpeg)
            os.replace(tmp, target)
            if live.preview_path != relative:
                live.preview_path = relative
                db.session.commit()
            self.notify("preview", live_id, {})
            return True

    def recover(self) -> int:
        """At start: lives left 'live' by a previous process are ended (nothing runs them)."""
        from livelite.services import lives

        with self.app.app_context():
            orphan_ids = [live.id for live in lives.current_lives(10000)]
        for live_id in orphan_ids:
            self.end_live(live_id, "recovered")
        return len(orphan_ids)

    def shutdown(self) -> None:
        if self.rtmp is not None:
            self.rtmp.stop()
        for feed_id in list(self.ingests):
            self.finish_feed(feed_id)


class RemoteMedia(LiveMedia):
    """The media manager of a process that does not own ingest (``LIVELITE_INGEST=false``).

    Paths are the same (every process sees the media folder); what needs the running
    ffmpeg goes to the ingest process through ``Cluster.to_ingest``. Ending a live never
    depends on it: when no ingest process answers, the live is ended in the database
    here, and the ingest process closes what is left when it starts again.
    """

    # How long a request waits for the ingest process (ending a live waits for ffmpeg
    # to finish its files: a second or two).
    END_WAIT_S = 30.0

    def _cluster(self):
        from livelite import cluster

        return cluster.of(self.app)

    def start_ingest(self, feed, *, new_recorder: bool = False):
        raise IngestFailed("this process does not run ingest (LIVELITE_INGEST=false)")

    def write(self, feed_id: int, data: bytes, max_kbps: int | None = None) -> None:
        raise IngestFailed("this process does not run ingest (LIVELITE_INGEST=false)")

    def finish_feed(self, feed_id: int) -> None:
        from livelite.cluster import IngestUnavailable

        try:
            self._cluster().to_ingest("finish_feed", feed_id=feed_id)
        except IngestUnavailable as exc:
            log.warning("feed %s: not finished by the ingest process (%s)", feed_id, exc)

    def stop_publishing(self, feed_id: int, code: str) -> None:
        from livelite.cluster import IngestUnavailable

        try:
            self._cluster().to_ingest("stop_publishing", wait=self.END_WAIT_S, feed_id=feed_id, code=code)
        except IngestUnavailable as exc:
            log.warning("feed %s: not stopped by the ingest process (%s)", feed_id, exc)

    def health(self, feed_id: int) -> dict | None:
        from livelite.cluster import IngestUnavailable

        try:
            return self._cluster().to_ingest("health", wait=2.0, feed_id=feed_id)
        except IngestUnavailable:
            return None

    def end_live(self, live_id: int, reason: str) -> None:
        from livelite.cluster import IngestUnavailable
        from livelite.services import lives

        try:
            self._cluster().to_ingest("end_live", wait=self.END_WAIT_S, live_id=live_id, reason=reason)
            return
        except IngestUnavailable as exc:
            log.warning("live %s: ending it here, the ingest process did not (%s)", live_id, exc)
        with self.app.app_context():
            live = lives.get_live(live_id)
            already = not live.is_live
            lives.end_live(live, reason)
        if not already:
            self.notify("live_ended", live_id, {"reason": reason})

    def start_rtmp(self) -> int:
        raise RuntimeError("RTMP ingest runs in the ingest process only")

    def tick(self) -> None:
        pass

    def recover(self) -> int:
        return 0

    def shutdown(self) -> None:
        pass


def register_ingest_handlers(cluster) -> None:
    """What the ingest process does for the others (``Cluster.to_ingest``)."""

    def media(app):
        return app.extensions["livelite.media"]

    @cluster.handler("end_live")
    def _end_live(app, live_id: int, reason: str):
        media(app).end_live(int(live_id), str(reason))

    @cluster.handler("finish_feed")
    def _finish_feed(app, feed_id: int):
        media(app).finish_feed(int(feed_id))

    @cluster.handler("stop_publishing")
    def _stop_publishing(app, feed_id: int, code: str):
        media(app).stop_publishing(int(feed_id), str(code))

    @cluster.handler("health")
    def _health(app, feed_id: int):
        return media(app).health(int(feed_id))


class _RtmpSink:
    """Where an accepted RTMP publisher's FLV goes; ends the live on a clean stop."""

    def __init__(self, media: LiveMedia, feed_id: int, live_id: int, user_id: int, max_kbps: int):
        self.media, self.feed_id, self.live_id, self.user_id = media, feed_id, live_id, user_id
        self.max_kbps = max_kbps

    def write(self, data: bytes) -> None:
        try:
            self.media.write(self.feed_id, data, self.max_kbps)
        except IngestRejected as exc:
            self.media.end_live(self.live_id, exc.reason)
            raise OSError("ingest limit exceeded") from None
        except IngestFailed:
            self.media.end_live(self.live_id, "ingest_failed")
            raise OSError("ingest failed") from None

    def close(self, clean: bool = False) -> None:
        """OBS's Stop Streaming unpublishes (clean): the live ends. A dropped connection
        leaves the live waiting PUBLISHER_GRACE_SECONDS for the encoder to reconnect."""
        from livelite.services import lives

        self.media.rtmp_publishers.discard(self.user_id)
        if clean:
            self.media.end_live(self.live_id, "host")
            return
        self.media.finish_feed(self.feed_id)
        with self.media.app.app_context():
            feed = lives.get_feed(lives.get_live(self.live_id), self.feed_id)
            lives.close_feed(feed)
            # The grace clock starts now, not at the last byte before the drop.
        self.media.last_data[self.feed_id] = time.monotonic()

"""Prometheus metrics for ``GET /metrics`` (blueprints/metrics): one registry per app.

Each app has a ``CollectorRegistry`` of its own (``app.extensions["livelite.metrics"]``),
never prometheus_client's global one: tests build many apps in one process, and a
global registry would refuse the second app's collector or mix two apps' figures.

Nothing is counted as things happen. ``SiteCollector`` asks the database and this
process when Prometheus scrapes, so the figures are right whichever process changed
them (a CLI command, a second server), and a restart loses nothing. A scrape costs a
handful of aggregate queries plus a look at the processes this app owns:

- from the database: lives now, accounts (by role), replays and the bytes of replays
  and videos (services.replays.site_storage, the admin storage page's figures), chat
  messages, questions and gifts;
- from this process: people watching (the room's presence, ``realtime.Presence``,
  knows only the Socket.IO connections of this process), running ffmpeg (ingests of
  ``media.manager.LiveMedia``, and the video and replay work queues), free disk under
  the media root, and prometheus_client's own ``process_*`` and ``python_*`` metrics.

The counters only go up as long as rows are only added. Gift sends are never deleted
(their foreign keys are SET NULL), so their counters are row counts. Chat messages
and questions are deleted with their author's account or their live (CASCADE): a row
count would then go down, which Prometheus reads as a counter reset (a false burst in
``rate()``), and counting them scans the biggest table of the site. Their counters are
the highest id issued instead: one index lookup, and it does not go down when older
rows are deleted. It goes down only when the site's newest rows are the ones deleted
(SQLite then hands their ids out again), a rare reset.
"""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select


def init_app(app: Flask) -> CollectorRegistry:
    """Make the app's registry: the site collector and prometheus_client's process,
    platform and garbage collector collectors (all computed at scrape time)."""
    registry = CollectorRegistry()
    SiteCollector(app, registry=registry)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    app.extensions["livelite.metrics"] = registry
    return registry


def registry_of(app: Flask) -> CollectorRegistry:
    return app.extensions["livelite.metrics"]


def running_ffmpeg(app: Flask) -> dict[str, int]:
    """ffmpeg processes of this app that are running now, by kind."""
    media = app.extensions["livelite.media"]
    with media.lock:
        ingests = list(media.ingests.values())
    counts = {"ingest": sum(1 for ingest in ingests if _alive(ingest.process))}
    for kind, key in (("video", "livelite.videos"), ("replay", "livelite.replays")):
        # A work queue exists once something used it; none yet means none running.
        queue = app.extensions.get(key)
        if queue is None:
            counts[kind] = 0
            continue
        with queue.lock:
            processes = list(queue.running)
        counts[kind] = sum(1 for process in processes if _alive(process))
    return counts


def _alive(process) -> bool:
    return process is not None and process.poll() is None


class SiteCollector(Collector):
    """LiveLite's own figures, read at each scrape (see the module docstring)."""

    def __init__(self, app: Flask, registry: CollectorRegistry | None = None):
        self.app = app
        if registry is not None:
            registry.register(self)

    def describe(self):
        # Names only, so that registering does not query a database that may not exist yet.
        return [
            GaugeMetricFamily("livelite_lives_live", ""),
            GaugeMetricFamily("livelite_viewers", ""),
            GaugeMetricFamily("livelite_users_total", ""),
            GaugeMetricFamily("livelite_users_by_role", "", labels=["role"]),
            GaugeMetricFamily("livelite_replays", ""),
            GaugeMetricFamily("livelite_storage_bytes", "", labels=["kind"]),
            GaugeMetricFamily("livelite_disk_free_bytes", ""),
            GaugeMetricFamily("livelite_ffmpeg_processes", "", labels=["kind"]),
            CounterMetricFamily("livelite_chat_messages", ""),
            CounterMetricFamily("livelite_questions", ""),
            CounterMetricFamily("livelite_gifts", ""),
            CounterMetricFamily("livelite_gift_coins", ""),
        ]

    def collect(self):
        from livelite.extensions import db
        from livelite.models import ChatMessage, GiftSend, Live, LiveStatus, Question, Role, User
        from livelite.services import replays

        # Its own app context: its own database session, closed when the scrape ends.
        with self.app.app_context():
            live_ids = list(db.session.scalars(select(Live.id).where(Live.status == LiveStatus.LIVE)))
            by_role = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
            storage = replays.site_storage(limit=0)
            chat_messages = db.session.scalar(select(func.max(ChatMessage.id))) or 0
            questions = db.session.scalar(select(func.max(Question.id))) or 0
            gift_sends, gift_coins = db.session.execute(
                select(func.count(), func.coalesce(func.sum(GiftSend.coins), 0)).select_from(GiftSend)
            ).one()

        presence = self.app.extensions["livelite.presence"]
        yield GaugeMetricFamily("livelite_lives_live", "Lives happening now.", value=len(live_ids))
        yield GaugeMetricFamily(
            "livelite_viewers",
            "People watching the lives happening now, summed over lives, as this server "
            "process sees them (its own Socket.IO connections).",
            value=sum(presence.count(live_id) for live_id in live_ids),
        )
        yield GaugeMetricFamily("livelite_users_total", "Accounts.", value=sum(by_role.values()))
        users = GaugeMetricFamily("livelite_users_by_role", "Accounts by site role.", labels=["role"])
        for role in Role:
            users.add_metric([role.value], by_role.get(role, 0))
        yield users
        yield GaugeMetricFamily("livelite_replays", "Replays kept (not deleted).", value=storage["replays"])
        stored = GaugeMetricFamily(
            "livelite_storage_bytes", "Bytes of replays and of videos (uploads included).", labels=["kind"]
        )
        stored.add_metric(["replays"], storage["replays_bytes"])
        stored.add_metric(["videos"], storage["videos_bytes"])
        yield stored
        yield GaugeMetricFamily(
            "livelite_disk_free_bytes",
            "Free bytes on the disk of the media root.",
            value=storage["disk_free_bytes"],
        )
        ffmpeg = GaugeMetricFamily(
            "livelite_ffmpeg_processes",
            "ffmpeg processes of this server process running now: live ingests, video "
            "conversions, replay MP4s.",
            labels=["kind"],
        )
        for kind, count in running_ffmpeg(self.app).items():
            ffmpeg.add_metric([kind], count)
        yield ffmpeg
        yield CounterMetricFamily(
            "livelite_chat_messages", "Chat messages sent (the highest message id).", value=chat_messages
        )
        yield CounterMetricFamily(
            "livelite_questions", "Questions asked in lives (the highest question id).", value=questions
        )
        yield CounterMetricFamily(
            "livelite_gifts", "Gift sends (a send of several counts once).", value=gift_sends
        )
        yield CounterMetricFamily("livelite_gift_coins", "Coins spent on gifts.", value=gift_coins)

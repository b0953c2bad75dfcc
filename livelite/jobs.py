"""Background work in the app process: one green thread runs each job at its interval.

Every job is a plain function of the app that tests call directly (the scheduler is
not started under tests). Jobs are idempotent and keyed by what they do, not by
when they last ran: a restart or a missed tick only means the next tick does the
work, and nothing is done twice (notifications carry per-person dedupe keys).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import Flask

log = logging.getLogger("livelite.jobs")


@dataclass
class Job:
    name: str
    every_s: float
    run: object  # callable(app)
    last: float = 0.0


def media_tick(app: Flask) -> None:
    """Previews, lost publishers, the disk floor (media.manager.LiveMedia.tick)."""
    app.extensions["livelite.media"].tick()


def guest_feeds(app: Flask) -> None:
    """Guests' feeds whose page stopped sending are closed (services.guests)."""
    from livelite.services import guests

    with app.app_context():
        guests.close_lost_feeds()


def send_reminders(app: Flask) -> None:
    """Reminders to RSVPs before events start (services.reminders)."""
    from livelite.services import reminders

    with app.app_context():
        reminders.send_due()


def expire_stories(app: Flask) -> None:
    """Stories past their 24 h are deleted with their files (services.videos)."""
    from livelite.services import videos

    with app.app_context():
        videos.expire_stories()


def replay_retention(app: Flask) -> None:
    """Replays: owners warned before deletion, expired ones deleted, missed ones made
    (services.replays)."""
    from livelite.services import replays

    with app.app_context():
        replays.expire()
        replays.sweep()


def sample_lives(app: Flask) -> None:
    """Viewer counts and likes of every live now, for analytics (services.analytics)."""
    from livelite.services import analytics

    with app.app_context():
        analytics.sample(app.extensions["livelite.presence"])


def prune_webhook_deliveries(app: Flask) -> None:
    """Webhook deliveries older than 30 days leave the log (services.webhooks). The
    deliveries themselves are sent by their own worker, not here: a slow receiver must
    not hold up the other jobs."""
    from livelite.services import webhooks

    with app.app_context():
        webhooks.prune()


JOBS = (
    ("media", 2.0, media_tick),
    ("guest_feeds", 5.0, guest_feeds),
    ("reminders", 30.0, send_reminders),
    ("stories", 60.0, expire_stories),
    ("replays", 600.0, replay_retention),
    ("webhooks", 3600.0, prune_webhook_deliveries),
    ("analytics", None, sample_lives),  # every ANALYTICS_SAMPLE_SECONDS
)


def run_forever(app: Flask, sleep) -> None:
    """The scheduler loop; ``sleep`` is socketio.sleep so it yields to eventlet."""
    jobs = [
        Job(name, every if every is not None else float(app.config["ANALYTICS_SAMPLE_SECONDS"]), func)
        for name, every, func in JOBS
    ]
    while True:
        now = time.monotonic()
        for job in jobs:
            if now - job.last < job.every_s:
                continue
            job.last = now
            try:
                job.run(app)
            except Exception:
                log.exception("job %s failed", job.name)
        sleep(1)

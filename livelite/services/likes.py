"""Hearts: taps gathered by the client, gathered again here, counted once a second.

A popular live gets thousands of taps a second. Each ``like`` event only adds to an
in-process counter (``LikeAggregator``); a background task writes the sum once per
live and second (one UPDATE) and sends one ``likes`` {total, added} to the room. The
per-person limit (``LIKES_PER_SECOND``, a token bucket with the event's count as its
cost) is checked by the socket handler before any database work.

Nothing counted is lost: a flush that fails puts its hearts back for the next one, and
when a live ends what is still waiting is written at once.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from livelite import realtime
from livelite.extensions import db, socketio
from livelite.models import Live, RoomSettings, User
from livelite.services import room

log = logging.getLogger("livelite.likes")

MAX_COUNT = 50  # hearts in one ``like`` event (the client sends what was tapped meanwhile)
FLUSH_SECONDS = 1.0
# The task stops after this many rounds with nothing to count, and starts again with
# the next heart: an app with no live running keeps no task.
IDLE_ROUNDS = 30


class LikeAggregator:
    """Hearts waiting to be counted, per live, in this process.

    ``spawn`` starts the background task (``socketio.start_background_task``) and
    ``sleep`` waits between rounds (``socketio.sleep``, which yields under eventlet).
    Tests pass a ``spawn`` that does nothing and call ``flush()`` themselves.
    """

    def __init__(self, app: Flask, spawn=None, sleep=None):
        self.app = app
        self._spawn = spawn or socketio.start_background_task
        self._sleep = sleep or socketio.sleep
        self._lock = threading.Lock()
        self._pending: dict[int, int] = defaultdict(int)
        self._running = False
        self._idle = threading.Event()
        self._idle.set()

    def add(self, live_id: int, count: int) -> None:
        """Keep ``count`` hearts for the next flush; start the task if it is not running."""
        with self._lock:
            self._pending[live_id] += count
            if self._running:
                return
            self._running = True
            self._idle.clear()
        self._spawn(self._run)

    def pending(self, live_id: int) -> int:
        with self._lock:
            return self._pending.get(live_id, 0)

    def _take(self, live_id: int | None) -> dict[int, int]:
        with self._lock:
            if live_id is None:
                taken = dict(self._pending)
                self._pending.clear()
                return taken
            count = self._pending.pop(live_id, 0)
            return {live_id: count} if count else {}

    def _give_back(self, counts: dict[int, int]) -> None:
        with self._lock:
            for live_id, count in counts.items():
                self._pending[live_id] += count

    def flush(self, live_id: int | None = None) -> dict[int, int]:
        """Write what is waiting (for every live, or one), one UPDATE per live and one
        commit, then tell each room; returns the new totals by live. Needs an app
        context. On a database error the hearts are kept for the next flush."""
        taken = self._take(live_id)
        totals: dict[int, int] = {}
        if not taken:
            return totals
        try:
            for lid, added in taken.items():
                total = _store(lid, added)
                if total is not None:
                    totals[lid] = total
            db.session.commit()
        except Exception:
            db.session.rollback()
            self._give_back(taken)
            raise
        for lid, total in totals.items():
            realtime.emit_to_live(lid, "likes", {"total": total, "added": taken[lid]})
        return totals

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the background task has stopped (tests)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        """The task: every second, count what came in. Survives errors (logged; the
        hearts stay for the next round) and stops once idle for a while."""
        idle = 0
        while True:
            self._sleep(FLUSH_SECONDS)
            with self._lock:
                if not self._pending:
                    idle += 1
                    if idle >= IDLE_ROUNDS:
                        self._running = False
                        self._idle.set()
                        return
                    continue
            idle = 0
            try:
                with self.app.app_context():
                    self.flush()
            except Exception:
                log.exception("counting hearts failed; trying again in a second")

    def on_media_event(self, event: str, live_id: int, payload: dict) -> None:
        """A live that ends has its last hearts counted at once (LiveMedia listener)."""
        if event != "live_ended" or not self.pending(live_id):
            return
        with self.app.app_context():
            self.flush(live_id)


def _store(live_id: int, added: int) -> int | None:
    """Add to the live's stored total in one UPDATE; the new total (None: no such live)."""
    result = db.session.execute(
        update(RoomSettings).where(RoomSettings.live_id == live_id).values(likes=RoomSettings.likes + added)
    )
    if result.rowcount == 0:
        live = db.session.get(Live, live_id)
        if live is None:
            return None  # deleted meanwhile: there is nothing to count them for
        room.settings_of(live).likes = added
        db.session.flush()
        return added
    return db.session.scalar(select(RoomSettings.likes).where(RoomSettings.live_id == live_id))


_INSTALL_LOCK = threading.Lock()


def aggregator(app: Flask | None = None) -> LikeAggregator:
    """The app's aggregator (``app.extensions["livelite.likes"]``), made on the first heart."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("livelite.likes")
    if found is None:
        with _INSTALL_LOCK:
            found = app.extensions.get("livelite.likes") or install(app, LikeAggregator(app))
    return found


def install(app: Flask, aggregator_: LikeAggregator) -> LikeAggregator:
    """Use ``aggregator_`` for ``app``, and count a live's last hearts when it ends
    (tests install one without a background task)."""
    app.extensions["livelite.likes"] = aggregator_
    media = app.extensions.get("livelite.media")
    if media is not None:
        media.listeners.append(aggregator_.on_media_event)
    return aggregator_


def check_count(count) -> int:
    """1 to 50 hearts, as a whole number (true is not a number of hearts)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise room.RoomError("invalid", _("Send between 1 and %(n)s hearts.", n=MAX_COUNT), status=422)
    return count


def add(live: Live, user: User | None, count) -> int:
    """Count ``count`` hearts from ``user`` for ``live``; they reach the room with the
    next flush. Returns how many were taken. The socket handler has already charged
    them to the person's ``LIKES_PER_SECOND`` bucket (before any database work)."""
    user = room.require_member(user)
    room.require_live(live)
    count = check_count(count)
    if room.is_kicked(live, user.id) or room.is_banned_by_host(live.host_id, user.id):
        raise room.RoomError("not_allowed", _("You were removed from this live."), status=403)
    aggregator().add(live.id, count)
    return count

"""Background media work in the app process: a FIFO and a few workers taking from it.

Conversions of uploads (services.videos) and the replays' MP4s (services.replays)
each run one or two ffmpeg at a time beside the server: they take most of a core, and
lives being ingested and pages being served come first. Work is named by a key (a
video id, ``("mp4", replay feed id)``…) whose state lives in the database, so a key is
queued once however often it is submitted, and what a stopped process left unfinished
is found again by ``recover`` at the next start.

Until ``start`` (the server does it; tests never do), ``submit`` does nothing: tests
call the work functions directly. In a process that does not own ingest
(``LIVELITE_INGEST=false``, livelite/cluster.py) the queue is never started and
``submit`` hands the key to the ingest process's queue through Redis.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Hashable

from flask import Flask

log = logging.getLogger("livelite.workqueue")


class WorkQueue:
    """Subclasses say what a key means (``handle``) and what is left to do (``pending``)."""

    name = "work"

    def __init__(self, app: Flask, workers: int):
        self.app = app
        self.workers = max(1, workers)
        self.pending_keys: queue.Queue = queue.Queue()
        self.queued: set = set()
        self.running: set = set()  # ffmpeg processes now working
        self.lock = threading.Lock()
        self.started = False
        self.stopping = False

    # -- for subclasses ------------------------------------------------------------
    def handle(self, key: Hashable) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def pending(self) -> list:
        """Keys a previous process left unfinished (called in an app context)."""
        return []

    # -- the queue -----------------------------------------------------------------
    def start(self, spawn) -> None:
        """``spawn(func)`` starts a background task (socketio.start_background_task)."""
        if self.started:
            return
        self.started = True
        for _worker in range(self.workers):
            spawn(self._work)

    def submit(self, key: Hashable) -> bool:
        if not self.started:
            return self._forward(key)
        with self.lock:
            if key in self.queued:
                return False
            self.queued.add(key)
        self.pending_keys.put(key)
        return True

    def _forward(self, key: Hashable) -> bool:
        from livelite.cluster import IngestUnavailable

        cluster = self.app.extensions.get("livelite.cluster")
        if cluster is None or not cluster.shared or cluster.ingest:
            return False
        try:
            cluster.to_ingest("submit", queue=self.name, key=list(key) if isinstance(key, tuple) else key)
        except IngestUnavailable as exc:
            # Its state is in the database: the ingest process's recover() finds it.
            log.warning("%s %s: queued for the ingest process's next start (%s)", self.name, key, exc)
            return False
        return True

    def recover(self) -> int:
        """Queue every key a previous process left unfinished; returns how many."""
        with self.app.app_context():
            keys = self.pending()
        return sum(1 for key in keys if self.submit(key))

    def stop(self) -> None:
        """At shutdown: no new work, and running ffmpeg are killed (their rows keep
        their unfinished state and are done again at the next start)."""
        self.stopping = True
        self.started = False
        for _worker in range(self.workers):
            self.pending_keys.put(None)
        with self.lock:
            running = list(self.running)
        for process in running:
            if process.poll() is None:
                process.kill()

    def _started(self, process) -> None:
        """``on_start`` for the work functions: ffmpeg is ours to kill at shutdown."""
        with self.lock:
            self.running.add(process)

    def _work(self) -> None:
        while True:
            key = self.pending_keys.get()
            if key is None:
                return
            try:
                with self.app.app_context():
                    self.handle(key)
            except Exception:
                log.exception("%s %s crashed", self.name, key)
            finally:
                with self.lock:
                    self.queued.discard(key)
                    self.running = {p for p in self.running if p.poll() is None}

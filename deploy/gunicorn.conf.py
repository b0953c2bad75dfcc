"""gunicorn settings for one LiveLite process (docs/deploy.md).

    gunicorn -c deploy/gunicorn.conf.py livelite.wsgi:app

One gunicorn runs ONE eventlet worker. Socket.IO's long-polling needs every request of
a client to reach the process that holds its session, and gunicorn's own balancing
between workers is not sticky: for more processes, run more gunicorns on more ports
(systemd's ``livelite-web@PORT``) behind nginx's ``ip_hash``, sharing Redis.

Everything comes from the same ``LIVELITE_*`` variables as the app: ``LIVELITE_HOST``
and ``LIVELITE_PORT`` (where to listen), ``LIVELITE_INGEST`` (the one process that runs
ingest), ``LIVELITE_MAX_CONNECTIONS``, ``LIVELITE_ACCESS_LOG``. Any gunicorn setting can
still be overridden with ``GUNICORN_CMD_ARGS`` (e.g. ``--timeout 300`` for a long first
migration).

Nothing from ``livelite`` (nor Flask, SQLAlchemy, redis) may be imported at the top of
this file: gunicorn reads it in the master before its eventlet worker has
monkey-patched the standard library, and modules imported unpatched keep blocking
sockets and locks. The app is imported by the worker, after the patching (the eventlet
worker patches when it is loaded and sets up its hub in ``init_process``); the hooks
below import what they need when they run, in the worker.
"""

from __future__ import annotations

import json
import os


def _env(name: str, default):
    """A ``LIVELITE_*`` value parsed as JSON when it can be, as ``create_app`` reads it."""
    raw = os.environ.get(f"LIVELITE_{name}")
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return raw


INGEST = bool(_env("INGEST", True))

bind = f"{_env('HOST', '127.0.0.1')}:{_env('PORT', 5000)}"
worker_class = "eventlet"
# Never more than one (see above).
workers = 1
# The app must be imported in the worker, after eventlet's patching.
preload_app = False
# Connections held at once: every viewer keeps a Socket.IO connection open for the
# whole visit. post_worker_init raises the open-file limit to fit, as `python app.py`
# does.
worker_connections = int(_env("MAX_CONNECTIONS", 10_000))
# With the eventlet worker, `timeout` is not a limit on requests (WebSockets stay open
# for hours): it is how long the worker may go without telling the master it is alive,
# i.e. how long the event loop may be blocked before the worker is killed and started
# again. Starting (migrations, waiting for the schema) keeps telling it too.
timeout = 60
# On SIGTERM: the worker stops taking connections, stops ingest at once (ffmpeg
# finishes its files), and gives open connections this long before the master kills
# it. Socket.IO clients reconnect, to another process behind nginx.
graceful_timeout = 20
# Idle keep-alive connections from nginx (upstream keepalive) are kept longer than
# nginx keeps them, so that gunicorn never closes one that nginx is about to reuse.
keepalive = 75
# A restarted worker drops every Socket.IO connection: never restart it on a count.
max_requests = 0

# Logs go to stderr (journald under systemd). The access log is off, as with
# `python app.py`; LIVELITE_ACCESS_LOG=true turns it on. nginx keeps its own.
errorlog = "-"
loglevel = "info"
accesslog = "-" if _env("ACCESS_LOG", False) else None
proc_name = f"livelite-{'ingest' if INGEST else 'web'}-{_env('PORT', 5000)}"
# gunicorn's control socket defaults to one path per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn/gunicorn.ctl), which the several gunicorns of one site would fight over.
control_socket_disable = True


def post_worker_init(worker):
    """In the worker, once the app is loaded and before it answers requests: run what
    ``python app.py`` runs beside the requests (``livelite.server.start_services``)
    and arrange for its ``stop()`` when the worker is told to stop."""
    import threading

    import eventlet

    from livelite import server

    app = worker.wsgi
    starting = threading.Event()

    def still_starting() -> None:
        # Migrations and wait_for_schema happen before the run loop that tells the
        # master this worker is alive: tell it here meanwhile.
        while not starting.is_set():
            worker.notify()
            eventlet.sleep(1.0)

    eventlet.spawn(still_starting)
    try:
        stop = server.start_services(app, say=worker.log.info)
    finally:
        starting.set()
    worker.livelite_stop = _Once(stop, worker.log)
    worker.worker_connections = server.connection_limit(int(worker.worker_connections))
    server.tune_garbage_collector()

    def stop_when_told() -> None:
        # SIGTERM only clears `alive`; the worker then waits up to graceful_timeout for
        # open connections (WebSockets never end by themselves). Stop ingest at once
        # instead of after that wait, which the master may cut short with SIGKILL.
        while worker.alive:
            eventlet.sleep(0.2)
        worker.livelite_stop()

    eventlet.spawn(stop_when_told)


def worker_int(worker):
    """SIGINT or SIGQUIT (Ctrl-C, a fast shutdown): stop before the worker exits."""
    _stop(worker)


def worker_exit(server, worker):
    """Whatever ended the worker: stop what start_services started, once."""
    _stop(worker)


def _stop(worker) -> None:
    stop = getattr(worker, "livelite_stop", None)
    if stop is not None:
        stop()


class _Once:
    """``stop()`` run by whichever hook comes first; the others wait until it is done."""

    def __init__(self, stop, log):
        import threading

        self._stop = stop
        self._log = log
        self._lock = threading.Lock()  # green: created after eventlet's patching
        self._done = False

    def __call__(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            self._log.info("Stopping LiveLite's services")
            self._stop()
            self._log.info("LiveLite's services stopped")

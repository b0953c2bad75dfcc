"""Serving: bring the database up to date, say where we listen, run Socket.IO on eventlet."""

from __future__ import annotations

import flask_migrate
from flask import Flask
from sqlalchemy import func, select

from livelite.extensions import db, socketio


def ensure_database(app: Flask) -> None:
    """Create or upgrade the schema through the migrations (idempotent)."""
    with app.app_context():
        flask_migrate.upgrade()


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections for a long-running server.

    Every chat message allocates hundreds of short-lived objects (ORM rows, Socket.IO
    packets for each connection); with the default thresholds the collector ran gen-0
    passes every 700 allocations and full passes over every object of the app. Objects
    alive at start (modules, the app, the mappers) are frozen out of collections, and
    gen 0 runs every 50 000 allocations instead (bench/chat, BENCHMARKS.md).
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def wait_for_schema(app: Flask, timeout: float = 120.0) -> None:
    """A process that does not own ingest leaves the migrations to the one that does,
    and waits until the database is at the newest revision."""
    import time

    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from livelite import MIGRATIONS_DIR

    heads = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            with db.engine.connect() as connection:
                current = set(MigrationContext.configure(connection).get_current_heads())
            if current == heads:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the database is at {sorted(current) or 'no revision'}, not {sorted(heads)}: "
                    "start the ingest process (LIVELITE_INGEST=true) first, or run `flask db upgrade`"
                )
            socketio.sleep(1.0)


def start_services(app: Flask, say=print):
    """Everything a server process runs beside answering requests; returns ``stop()``.

    ``python app.py`` (``serve``) and gunicorn (``deploy/gunicorn.conf.py``) both call
    it. The ingest process (the only one with one process) brings the database up to
    date, closes what the previous run left open and runs ingest, the jobs and the
    background queues; the others wait for the schema and ask it through Redis
    (livelite/cluster.py).
    """
    from livelite import cluster as cluster_mod
    from livelite.media.manager import limit_blocking_threads

    limit_blocking_threads(int(app.config["BLOCKING_THREADS"]))
    cluster = cluster_mod.of(app)
    if not cluster.ingest:
        wait_for_schema(app)
        cluster.start(socketio.start_background_task)
        say(f" * Process {cluster.proc_id}: web only; ingest runs in another process.")

        def stop_web() -> None:
            cluster.stop()

        return stop_web

    ensure_database(app)
    # Heartbeat first: with Redis, presences that dead processes left are taken back
    # before attendance is recovered.
    cluster.start(socketio.start_background_task)
    from livelite.services import analytics

    # Before the lives are closed: attendance rows left open end at their last sample,
    # not now (closing a recovered live would close them at the restart's time).
    with app.app_context():
        analytics.recover_attendance(app.extensions["livelite.presence"] if cluster.shared else None)
    media = app.extensions["livelite.media"]
    recovered = media.recover()
    if recovered:
        say(f" * Closed {recovered} live(s) left open by the previous run.")
    from livelite.services import videos

    # Conversions run beside the server, a few at a time; what the previous process
    # left unfinished goes back in the queue (its upload is still on disk).
    video_queue = videos.queue_of(app)
    video_queue.start(socketio.start_background_task)
    requeued = video_queue.recover()
    if requeued:
        say(f" * Queued {requeued} video(s) left converting by the previous run.")
    from livelite.services import replays

    # Replays a crash kept from being made, then the MP4s left unfinished.
    with app.app_context():
        made = replays.sweep()
    if made:
        say(f" * Made {made} replay(s) of lives that ended without one.")
    replay_queue = replays.queue_of(app)
    replay_queue.start(socketio.start_background_task)
    replay_queue.recover()
    if app.config["RTMP_ENABLED"]:
        rtmp_port = media.start_rtmp()
        say(f" * RTMP ingest (OBS): rtmp://{app.config['HOST']}:{rtmp_port}/live")
    from livelite import jobs

    socketio.start_background_task(jobs.run_forever, app, socketio.sleep)
    from livelite.services import webhooks

    # Webhook deliveries go out from their own task, so a slow receiver never delays
    # the jobs; what the previous run left pending is due at once.
    webhook_worker = webhooks.worker_of(app)
    webhook_worker.start(socketio.start_background_task)
    _register_ingest_handlers(cluster, {video_queue.name: video_queue, replay_queue.name: replay_queue})

    def stop_ingest() -> None:
        video_queue.stop()
        replay_queue.stop()
        webhook_worker.stop()
        media.shutdown()
        cluster.stop()

    return stop_ingest


def _register_ingest_handlers(cluster, queues: dict) -> None:
    """What the other processes ask of this one (``Cluster.to_ingest``)."""
    from livelite.media.manager import register_ingest_handlers
    from livelite.services import webhooks

    register_ingest_handlers(cluster)

    @cluster.handler("submit")
    def _submit(app, queue: str, key):
        queues[queue].submit(tuple(key) if isinstance(key, list) else key)

    @cluster.handler("webhooks_wake")
    def _webhooks_wake(app):
        webhooks.worker_of(app).wake()


def serve(app: Flask) -> int:
    from livelite.models import User

    stop = start_services(app, say=lambda text: print(text, flush=True))
    host, port = app.config["HOST"], int(app.config["PORT"])
    with app.app_context():
        fresh = not db.session.scalar(select(func.count()).select_from(User))
    print(f" * LiveLite is running on http://{host}:{port}/", flush=True)
    print(f" * Instance folder: {app.instance_path}", flush=True)
    if fresh:
        print(" * New instance: the first account to register becomes the admin.", flush=True)
    tune_garbage_collector()
    try:
        _run_eventlet(
            app,
            host,
            port,
            log_output=bool(app.config.get("ACCESS_LOG", False)),
            max_size=connection_limit(int(app.config["MAX_CONNECTIONS"])),
        )
    finally:
        stop()
    return 0


def _run_eventlet(app: Flask, host: str, port: int, **options) -> None:
    """What ``socketio.run`` does on eventlet, with Nagle's algorithm turned off.

    A Socket.IO event often answers with several small WebSocket frames in a row (the
    room's broadcast, the sender's balance, then the acknowledgement). With Nagle on,
    the kernel held each frame after the first until the client's delayed ACK, 40 ms
    on Linux: bench/gifts measured gift acknowledgements at 68 ms p50 for one sender.
    TCP_NODELAY set on the listening socket is inherited by every accepted one.
    """
    import socket

    import eventlet
    import eventlet.green.socket
    import eventlet.wsgi

    addresses = eventlet.green.socket.getaddrinfo(host, port)
    if not addresses:
        raise RuntimeError(f"cannot resolve {host}")
    listener = eventlet.listen(addresses[0][4], addresses[0][0])
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    eventlet.wsgi.server(listener, app, **options)


def connection_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted`` connections (plus room
    for the database, logs and ffmpeg pipes) as far as the hard limit allows, and
    return how many connections eventlet may hold within it."""
    import resource

    spare = 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted + spare if hard == resource.RLIM_INFINITY else min(hard, wanted + spare)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(1, min(wanted, soft - spare))

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


def _tune_garbage_collector() -> None:
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


def serve(app: Flask) -> int:
    from livelite.models import User

    ensure_database(app)
    from livelite.services import analytics

    # Before the lives are closed: attendance rows left open end at their last sample,
    # not now (closing a recovered live would close them at the restart's time).
    with app.app_context():
        analytics.recover_attendance()
    media = app.extensions["livelite.media"]
    recovered = media.recover()
    if recovered:
        print(f" * Closed {recovered} live(s) left open by the previous run.", flush=True)
    from livelite.services import videos

    # Conversions run beside the server, a few at a time; what the previous process
    # left unfinished goes back in the queue (its upload is still on disk).
    video_queue = videos.queue_of(app)
    video_queue.start(socketio.start_background_task)
    requeued = video_queue.recover()
    if requeued:
        print(f" * Queued {requeued} video(s) left converting by the previous run.", flush=True)
    from livelite.services import replays

    # Replays a crash kept from being made, then the MP4s left unfinished.
    with app.app_context():
        made = replays.sweep()
    if made:
        print(f" * Made {made} replay(s) of lives that ended without one.", flush=True)
    replay_queue = replays.queue_of(app)
    replay_queue.start(socketio.start_background_task)
    replay_queue.recover()
    host, port = app.config["HOST"], int(app.config["PORT"])
    with app.app_context():
        fresh = not db.session.scalar(select(func.count()).select_from(User))
    print(f" * LiveLite is running on http://{host}:{port}/", flush=True)
    print(f" * Instance folder: {app.instance_path}", flush=True)
    if fresh:
        print(" * New instance: the first account to register becomes the admin.", flush=True)
    if app.config["RTMP_ENABLED"]:
        rtmp_port = media.start_rtmp()
        print(f" * RTMP ingest (OBS): rtmp://{host}:{rtmp_port}/live", flush=True)
    from livelite import jobs

    socketio.start_background_task(jobs.run_forever, app, socketio.sleep)
    from livelite.services import webhooks

    # Webhook deliveries go out from their own task, so a slow receiver never delays
    # the jobs; what the previous run left pending is due at once.
    webhook_worker = webhooks.worker_of(app)
    webhook_worker.start(socketio.start_background_task)
    _tune_garbage_collector()
    try:
        _run_eventlet(
            app,
            host,
            port,
            log_output=bool(app.config.get("ACCESS_LOG", False)),
            max_size=_connection_limit(int(app.config["MAX_CONNECTIONS"])),
        )
    finally:
        video_queue.stop()
        replay_queue.stop()
        webhook_worker.stop()
        media.shutdown()
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


def _connection_limit(wanted: int) -> int:
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

#!/usr/bin/env python
"""The yardstick for bench/chat.py: the least a Flask-SocketIO chat can do.

    python bench/chat_baseline.py [--host 127.0.0.1] [--port 5055] [--batch-ms 0]

Same stack as LiveLite (Flask-SocketIO on eventlet, the versions pinned in
requirements.txt, ``socketio.run`` with its defaults, as ``livelite.server.serve``
calls it) and the same wire protocol as the ``/live`` namespace of docs/realtime.md,
so the benchmark's clients talk to both unchanged:

* ``connect`` with auth ``{live_id}`` joins the room ``live:<id>`` (nothing is checked);
* ``chat_send`` ``{body}`` broadcasts ``chat`` to that room with a payload shaped like
  LiveLite's ``message`` (id, user, body, offset_ms, at, role) and acknowledges
  ``{ok: true, message}``.

No database, no session, no rate limit, no presence, no ``viewers`` broadcast: the
difference between the two servers is what LiveLite's own work costs.

``--batch-ms N`` (the benchmark's ``batched`` target) is an experiment, not the
contract: messages are gathered and each room gets one ``chat`` event every N ms whose
argument is the list of messages, so the cost of a broadcast (one packet per
connection) is paid a few times a second whatever the message rate.
"""

import sys

if __name__ == "__main__":
    # eventlet must patch the standard library first, as app.py does.
    import warnings

    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()

import argparse
import itertools
from collections import defaultdict
from datetime import UTC, datetime

from flask import Flask, request
from flask_socketio import SocketIO, emit, join_room

NAMESPACE = "/live"

app = Flask(__name__)
app.config["SECRET_KEY"] = "bench-only"  # noqa: S105 - throwaway server on 127.0.0.1
# The same Socket.IO options as livelite/__init__.py.
socketio = SocketIO(
    app, async_mode="eventlet", cors_allowed_origins=None, max_http_buffer_size=8 * 1024 * 1024
)
rooms: dict[str, str] = {}
ids = itertools.count(1)
started = datetime.now(UTC)
batch_ms = 0
pending: defaultdict[str, list[dict]] = defaultdict(list)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@socketio.on("connect", namespace=NAMESPACE)
def on_connect(auth):
    live_id = int((auth or {}).get("live_id", 1))
    room = f"live:{live_id}"
    join_room(room)
    rooms[request.sid] = room


@socketio.on("disconnect", namespace=NAMESPACE)
def on_disconnect(*_args):
    rooms.pop(request.sid, None)


@socketio.on("chat_send", namespace=NAMESPACE)
def on_chat_send(data):
    body = str((data or {}).get("body", ""))[:300]
    now = datetime.now(UTC)
    message = {
        "id": next(ids),
        "user": {
            "id": 2,
            "username": "sender",
            "display_name": "Sender",
            "avatar_url": "/static/img/avatar.svg",
        },
        "body": body,
        "offset_ms": int((now - started).total_seconds() * 1000),
        "at": now.isoformat(),
        "role": "viewer",
    }
    room = rooms.get(request.sid, "live:1")
    if batch_ms:
        pending[room].append(message)
    else:
        emit("chat", message, to=room)
    return {"ok": True, "message": message}


def flush_batches() -> None:
    """With ``--batch-ms``: one ``chat`` [messages] per room every ``batch_ms``."""
    while True:
        socketio.sleep(batch_ms / 1000)
        for room in list(pending):
            messages = pending.pop(room)
            if messages:
                socketio.emit("chat", messages, to=room, namespace=NAMESPACE)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument(
        "--batch-ms", type=int, default=0, help="gather chat messages for this long (0: one by one)"
    )
    args = parser.parse_args()
    global batch_ms
    batch_ms = args.batch_ms
    if batch_ms:
        socketio.start_background_task(flush_batches)
    print(f" * chat baseline on http://{args.host}:{args.port}/", flush=True)
    socketio.run(app, host=args.host, port=args.port, log_output=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

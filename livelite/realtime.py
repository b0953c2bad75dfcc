"""Realtime plumbing shared by features: room names, emits after commit, presence.

Emits go through ``emit_to_live`` so that with a Redis message queue
(``SOCKETIO_MESSAGE_QUEUE``) they reach every process without code changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from flask import current_app, request
from flask_babel import gettext as _

from livelite.extensions import socketio

LIVE_NAMESPACE = "/live"
ME_NAMESPACE = "/me"


def live_room(live_id: int) -> str:
    return f"live:{live_id}"


def emit_to_live(live_id: int, event: str, payload: dict) -> None:
    socketio.emit(event, payload, to=live_room(live_id), namespace=LIVE_NAMESPACE)


def staff_room(live_id: int) -> str:
    """Host, moderators and admins connected to one live (the Q&A queue, guest requests)."""
    return f"live:{live_id}:staff"


def member_room(live_id: int, user_id: int) -> str:
    """Every connection of one person to one live: a mute or a kick reaches all of them."""
    return f"live:{live_id}:user:{user_id}"


def emit_to_staff(live_id: int, event: str, payload: dict) -> None:
    socketio.emit(event, payload, to=staff_room(live_id), namespace=LIVE_NAMESPACE)


def emit_to_member(live_id: int, user_id: int, event: str, payload: dict) -> None:
    socketio.emit(event, payload, to=member_room(live_id, user_id), namespace=LIVE_NAMESPACE)


def set_staff(live_id: int, user_id: int, staff: bool) -> None:
    """Move a person's open connections to a live in or out of its staff room at once
    (a moderator appointed or removed while watching). With Redis, presence lists every
    process's connections and python-socketio forwards the room change to their owner."""
    presence = current_app.extensions["livelite.presence"]
    for sid in presence.sids_of(live_id, f"user:{user_id}"):
        if staff:
            socketio.server.enter_room(sid, staff_room(live_id), namespace=LIVE_NAMESPACE)
        else:
            socketio.server.leave_room(sid, staff_room(live_id), namespace=LIVE_NAMESPACE)


def disconnect_member(live_id: int, user_id: int) -> None:
    """Close every connection of one person to one live (kick, ban), in whichever process
    holds it (see ``set_staff``). Their events would be refused anyway: every handler
    checks sanctions in the database."""
    presence = current_app.extensions["livelite.presence"]
    for sid in presence.sids_of(live_id, f"user:{user_id}"):
        socketio.server.disconnect(sid, namespace=LIVE_NAMESPACE)


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def emit_to_user(user_id: int, event: str, payload: dict) -> None:
    """To every open page of one person (the /me namespace)."""
    socketio.emit(event, payload, to=user_room(user_id), namespace=ME_NAMESPACE)


class Presence:
    """Who is watching which live, in this process (``cluster.RedisPresence`` shares it
    between processes).

    A person counts once however many tabs or reconnects they have: connections are
    grouped by identity (user id, or a per-browser id for visitors).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._by_live: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._by_sid: dict[str, tuple[int, str]] = {}

    def join(self, live_id: int, identity: str, sid: str) -> tuple[int, bool]:
        """Add a connection; returns (new count, whether it is this person's first)."""
        with self._lock:
            sids = self._by_live[live_id][identity]
            first = not sids
            sids.add(sid)
            self._by_sid[sid] = (live_id, identity)
            return len(self._by_live[live_id]), first

    def leave(self, sid: str) -> tuple[int, int, str, bool] | None:
        """Forget a connection; returns (live id, new count, identity, whether it was
        this person's last) or None if unknown."""
        with self._lock:
            found = self._by_sid.pop(sid, None)
            if found is None:
                return None
            live_id, identity = found
            people = self._by_live[live_id]
            people[identity].discard(sid)
            last = not people[identity]
            if last:
                del people[identity]
            count = len(people)
            if not people:
                del self._by_live[live_id]
            return live_id, count, identity, last

    def entries(self) -> list[tuple[int, str, str]]:
        """Every (live id, identity, sid) of this process."""
        with self._lock:
            return [(live_id, identity, sid) for sid, (live_id, identity) in self._by_sid.items()]

    def sids_of(self, live_id: int, identity: str) -> list[str]:
        with self._lock:
            return list(self._by_live.get(live_id, {}).get(identity, ()))

    def identities(self, live_id: int) -> list[str]:
        with self._lock:
            return list(self._by_live.get(live_id, {}))

    def count(self, live_id: int) -> int:
        with self._lock:
            return len(self._by_live.get(live_id, {}))


class ViewerCounts:
    """Tells a live's room its viewer count, at most once per ``interval`` seconds.

    Telling everyone on every join made a crowd arriving cost O(N²) packets: 2000
    viewers joining took 56 s of one core in bench/chat. Now a change is sent at once
    if the room was last told more than ``interval`` ago, otherwise once when the
    interval is up, with the count of that moment; nothing is sent if the count is what
    the room was last told (a second tab of the same person). A joining connection gets
    the exact count in its own ``room_state``.
    """

    def __init__(self, presence: Presence, interval: float, shared: bool = False):
        self._presence = presence
        self._interval = interval
        # With several processes, another one may have told the room a newer count
        # since this one last did: a count equal to ours is sent anyway.
        self._shared = shared
        self._lock = threading.Lock()
        self._told: dict[int, tuple[float, int]] = {}  # live id → (when, count)
        self._due: set[int] = set()

    def changed(self, live_id: int) -> None:
        now = time.monotonic()
        with self._lock:
            if live_id in self._due:
                return  # a send is already waiting; it will read the count then
            last = self._told.get(live_id)
            wait = 0.0 if last is None else last[0] + self._interval - now
            if wait > 0:
                self._due.add(live_id)
        if wait > 0:
            socketio.start_background_task(self._later, live_id, wait)
        else:
            self._send(live_id)

    def _later(self, live_id: int, wait: float) -> None:
        socketio.sleep(wait)
        with self._lock:
            self._due.discard(live_id)
        self._send(live_id)

    def _send(self, live_id: int) -> None:
        count = self._presence.count(live_id)
        with self._lock:
            last = self._told.get(live_id)
            if last is not None and last[1] == count and not self._shared:
                return
            if count == 0:
                # Nobody left to tell: forget the live (a later join starts afresh).
                self._told.pop(live_id, None)
            else:
                self._told[live_id] = (time.monotonic(), count)
        emit_to_live(live_id, "viewers", {"live_id": live_id, "count": count})


log = logging.getLogger("livelite.realtime")


@socketio.on_error_default
def on_unexpected_error(exc: Exception) -> dict:
    """Any Socket.IO handler that raises: the transaction is rolled back, the sender
    gets an error acknowledgement (what the handler returns becomes the ack) instead of
    silence, and the connection stays usable. A busy database (a lock held longer than
    the timeout) is said as such, with a wait."""
    from livelite.errors import BUSY_RETRY_AFTER, database_busy
    from livelite.extensions import db

    db.session.rollback()
    event = request.event.get("message") if getattr(request, "event", None) else "?"
    busy = database_busy(exc)
    if busy:
        log.warning("database busy on Socket.IO %s: %s", event, exc)
    else:
        log.exception("Socket.IO handler %s failed", event)
    if event == "connect":
        # Whatever a connect handler returns (but False) accepts the connection.
        raise ConnectionRefusedError(_("The site is busy. Try again in a moment.") if busy else "server error")
    if busy:
        return {
            "ok": False,
            "code": "busy",
            "error": _("The site is busy. Nothing was changed; try again in a moment."),
            "retry_after": BUSY_RETRY_AFTER,
        }
    return {
        "ok": False,
        "code": "server_error",
        "error": _("Something went wrong on our side. Nothing you did; try again in a moment."),
    }


def init_app(app) -> None:
    from livelite import cluster as cluster_mod

    cluster = cluster_mod.of(app)
    presence = Presence()
    if cluster.shared:
        presence = cluster_mod.RedisPresence(cluster, presence)
    app.extensions["livelite.presence"] = presence
    viewer_counts = app.extensions["livelite.viewer_counts"] = ViewerCounts(
        presence, float(app.config["VIEWERS_BROADCAST_SECONDS"]), shared=cluster.shared
    )

    def presence_gone(live_id: int, identity: str) -> None:
        # A process died holding this person's last connection to the live.
        from livelite.services import analytics

        with app.app_context():
            analytics.attendance_leave(live_id, identity)
        viewer_counts.changed(live_id)

    cluster.on_presence_gone.append(presence_gone)
    media = app.extensions["livelite.media"]
    media.listeners.append(_media_event)


def _media_event(event: str, live_id: int, payload: dict) -> None:
    """Media events become room events (live ended, new preview)."""
    emit_to_live(live_id, event, {"live_id": live_id, **payload})

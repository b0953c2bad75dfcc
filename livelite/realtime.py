"""Realtime plumbing shared by features: room names, emits after commit, presence.

Emits go through ``emit_to_live`` so that with a Redis message queue
(``SOCKETIO_MESSAGE_QUEUE``) they reach every process without code changes.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from flask import current_app

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
    (a moderator appointed or removed while watching). This process's connections only;
    others pick it up when they reconnect."""
    presence = current_app.extensions["livelite.presence"]
    for sid in presence.sids_of(live_id, f"user:{user_id}"):
        if staff:
            socketio.server.enter_room(sid, staff_room(live_id), namespace=LIVE_NAMESPACE)
        else:
            socketio.server.leave_room(sid, staff_room(live_id), namespace=LIVE_NAMESPACE)


def disconnect_member(live_id: int, user_id: int) -> None:
    """Close every connection of one person to one live in this process (kick, ban).
    Their events would be refused anyway: every handler checks sanctions in the database."""
    presence = current_app.extensions["livelite.presence"]
    for sid in presence.sids_of(live_id, f"user:{user_id}"):
        socketio.server.disconnect(sid, namespace=LIVE_NAMESPACE)


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def emit_to_user(user_id: int, event: str, payload: dict) -> None:
    """To every open page of one person (the /me namespace)."""
    socketio.emit(event, payload, to=user_room(user_id), namespace=ME_NAMESPACE)


class Presence:
    """Who is watching which live, in this process.

    A person counts once however many tabs or reconnects they have: connections are
    grouped by identity (user id, or a per-browser id for visitors).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._by_live: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._by_sid: dict[str, tuple[int, str]] = {}

    def join(self, live_id: int, identity: str, sid: str) -> int:
        with self._lock:
            self._by_live[live_id][identity].add(sid)
            self._by_sid[sid] = (live_id, identity)
            return len(self._by_live[live_id])

    def leave(self, sid: str) -> tuple[int, int] | None:
        """Forget a connection; returns (live id, new count) or None if unknown."""
        with self._lock:
            found = self._by_sid.pop(sid, None)
            if found is None:
                return None
            live_id, identity = found
            people = self._by_live[live_id]
            people[identity].discard(sid)
            if not people[identity]:
                del people[identity]
            count = len(people)
            if not people:
                del self._by_live[live_id]
            return live_id, count

    def identity_of(self, sid: str) -> str | None:
        with self._lock:
            found = self._by_sid.get(sid)
            return found[1] if found else None

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

    def __init__(self, presence: Presence, interval: float):
        self._presence = presence
        self._interval = interval
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
            if last is not None and last[1] == count:
                return
            if count == 0:
                # Nobody left to tell: forget the live (a later join starts afresh).
                self._told.pop(live_id, None)
            else:
                self._told[live_id] = (time.monotonic(), count)
        emit_to_live(live_id, "viewers", {"live_id": live_id, "count": count})


def init_app(app) -> None:
    presence = Presence()
    app.extensions["livelite.presence"] = presence
    app.extensions["livelite.viewer_counts"] = ViewerCounts(
        presence, float(app.config["VIEWERS_BROADCAST_SECONDS"])
    )
    media = app.extensions["livelite.media"]
    media.listeners.append(_media_event)


def _media_event(event: str, live_id: int, payload: dict) -> None:
    """Media events become room events (live ended, new preview)."""
    emit_to_live(live_id, event, {"live_id": live_id, **payload})

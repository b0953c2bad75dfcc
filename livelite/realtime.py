"""Realtime plumbing shared by features: room names, emits after commit, presence.

Emits go through ``emit_to_live`` so that with a Redis message queue
(``SOCKETIO_MESSAGE_QUEUE``) they reach every process without code changes.
"""

from __future__ import annotations

import threading
from collections import defaultdict

from livelite.extensions import socketio

LIVE_NAMESPACE = "/live"
ME_NAMESPACE = "/me"


def live_room(live_id: int) -> str:
    return f"live:{live_id}"


def emit_to_live(live_id: int, event: str, payload: dict) -> None:
    socketio.emit(event, payload, to=live_room(live_id), namespace=LIVE_NAMESPACE)


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

    def count(self, live_id: int) -> int:
        with self._lock:
            return len(self._by_live.get(live_id, {}))


def init_app(app) -> None:
    app.extensions["livelite.presence"] = Presence()
    media = app.extensions["livelite.media"]
    media.listeners.append(_media_event)


def _media_event(event: str, live_id: int, payload: dict) -> None:
    """Media events become room events (live ended, new preview)."""
    emit_to_live(live_id, event, {"live_id": live_id, **payload})

"""Socket.IO namespace /publish: the browser publisher's media (docs/realtime.md).

Client → server (each with an acknowledgement):
- ``publish_start`` ``{live_id, mime, recorder_id}`` → ``{ok, feed_id, last_seq}``:
  the host (or a guest on stage: services.guests) starts or resumes their feed;
  resuming with the same recorder continues the byte stream, a new recorder starts a
  new ffmpeg run.
- ``publish_chunk`` ``{feed_id, seq, data: binary}`` → ``{ok, last_seq, viewers, health}``
  or ``{ok: false, error, last_seq?}``. Chunks are written strictly in ``seq`` order.
Only the live's host and its guests on stage may publish; every event checks it on
the server. A guest taken off the stage gets ``{ok: false, fatal: true, code, error}``.
"""

from __future__ import annotations

import time

from flask import current_app, request
from flask_babel import gettext as _
from flask_login import current_user

from livelite.extensions import socketio
from livelite.media.ingest import IngestFailed
from livelite.media.manager import IngestRejected
from livelite.services import publishing
from livelite.services.errors import DomainError
from livelite.services.settings import get_setting

PUBLISH_NAMESPACE = "/publish"
HEALTH_EVERY_S = 2.0


def _registry() -> publishing.PublishRegistry:
    return current_app.extensions["livelite.publishing"]


def _media():
    return current_app.extensions["livelite.media"]


def _error(exc: DomainError) -> dict:
    final = isinstance(exc, publishing.LiveEnded | publishing.FeedStopped)
    body = {"ok": False, "error": exc.message, "fatal": final}
    if final:
        body["code"] = exc.code
    if isinstance(exc, publishing.OutOfOrder):
        body["last_seq"] = exc.last_seq
    return body


@socketio.on("connect", namespace=PUBLISH_NAMESPACE)
def on_connect(auth=None):
    """Only logged-in people may open a publishing connection, and only to the process
    that runs ingest (with several processes, nginx routes PUBLISH_SOCKET_PATH to it)."""
    if not current_app.config["INGEST"]:
        raise ConnectionRefusedError("this process does not run ingest: publish through PUBLISH_SOCKET_PATH")
    return bool(current_user.is_authenticated)


@socketio.on("publish_start", namespace=PUBLISH_NAMESPACE)
def on_publish_start(payload=None):
    payload = payload if isinstance(payload, dict) else {}
    try:
        state = publishing.start(
            current_user,
            payload.get("live_id"),
            payload.get("mime", ""),
            payload.get("recorder_id", ""),
            _media(),
            _registry(),
            request.sid,
        )
    except (TypeError, ValueError, OverflowError):  # not a number; OverflowError: int(1e400)
        return {"ok": False, "error": _("This live does not exist.")}
    except DomainError as exc:
        return _error(exc)
    return {"ok": True, "feed_id": state.feed_id, "last_seq": state.last_seq}


@socketio.on("publish_chunk", namespace=PUBLISH_NAMESPACE)
def on_publish_chunk(payload=None):
    payload = payload if isinstance(payload, dict) else {}
    media = _media()
    try:
        state = publishing.chunk(
            request.sid,
            payload.get("feed_id"),
            payload.get("seq"),
            payload.get("data"),
            media,
            _registry(),
            get_setting("MAX_INGEST_KBPS"),
        )
    except DomainError as exc:
        return _error(exc)
    except (IngestRejected, IngestFailed) as exc:
        reason = exc.reason if isinstance(exc, IngestRejected) else "ingest_failed"
        try:
            state = _registry().for_sid(request.sid, payload.get("feed_id"))
        except DomainError as over:  # ended or stopped meanwhile: that is the answer
            return _error(over)
        return _error(publishing.feed_failed(state, reason, media, _registry()))
    reply = {"ok": True, "last_seq": state.last_seq}
    now = time.monotonic()
    if now - getattr(state, "health_sent", 0) > HEALTH_EVERY_S:
        state.health_sent = now
        reply["health"] = media.health(state.feed_id)
        reply["viewers"] = current_app.extensions["livelite.presence"].count(state.live_id)
    return reply


@socketio.on("disconnect", namespace=PUBLISH_NAMESPACE)
def on_disconnect(*_args):
    """The live waits PUBLISHER_GRACE_SECONDS for the page to reconnect (media tick)."""
    _registry().detach(request.sid)

"""Recent errors for the admin overview: the last log records at ERROR or above from
the ``livelite`` loggers, kept in memory (``app.extensions["livelite.errors"]``).

Loggers are process-wide while apps are not (tests build many apps in one process), so
one ``_Dispatcher`` handler sits on the ``livelite`` logger and hands each record to the
buffer of the app whose context it was logged in; a record logged outside any app
context (an ingest thread, the RTMP listener) goes to every app's buffer, as a
production process has one app. Buffers are held weakly: an app that goes away takes
its buffer with it and leaves no handler behind.

Only the message (shortened, with token-like and password-like text masked), the
logger's name, the time and the exception's type are kept: never a traceback or an
exception's text, which may carry a secret.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, current_app, has_app_context

LOGGER = "livelite"
KEEP = 200
MESSAGE_MAX = 300

_SECRETS = re.compile(
    r"(ll_[A-Za-z0-9_\-]{6,}|whsec_[A-Za-z0-9_\-]{6,}|(?i:bearer)\s+\S+"
    r"|(?i:password|passwd|secret|token|key)=\S+)"
)


@dataclass(frozen=True)
class ErrorRecord:
    at: datetime
    logger: str
    level: str
    message: str
    exception: str | None

    def as_dict(self) -> dict:
        return {
            "at": self.at,
            "logger": self.logger,
            "level": self.level,
            "message": self.message,
            "exception": self.exception,
        }


def _mask(text: str) -> str:
    text = _SECRETS.sub("[hidden]", text)
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


class ErrorBuffer:
    """The last ``KEEP`` error records of one app, newest last; safe across threads."""

    def __init__(self, keep: int = KEEP):
        self._records: deque[ErrorRecord] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not lose the record
            message = str(record.msg)
        exc_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        entry = ErrorRecord(
            at=datetime.fromtimestamp(record.created, UTC),
            logger=record.name,
            level=record.levelname,
            message=_mask(message),
            exception=exc_type,
        )
        with self._lock:
            self._records.append(entry)

    def recent(self, limit: int | None = None) -> list[ErrorRecord]:
        """Newest first."""
        with self._lock:
            records = list(self._records)
        records.reverse()
        return records[:limit] if limit is not None else records

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class _Dispatcher(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.buffers: dict[int, ErrorBuffer] = weakref.WeakValueDictionary()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if has_app_context():
                buffer = current_app.extensions.get("livelite.errors")
                targets = [buffer] if buffer is not None else []
            else:
                targets = list(self.buffers.values())
            for buffer in targets:
                buffer.add(record)
        except Exception:  # noqa: BLE001 - a logging handler must never raise
            self.handleError(record)


_dispatcher: _Dispatcher | None = None
_dispatcher_lock = threading.Lock()


def _installed_dispatcher() -> _Dispatcher:
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is None:
            _dispatcher = _Dispatcher()
            logging.getLogger(LOGGER).addHandler(_dispatcher)
        return _dispatcher


def init_app(app: Flask) -> ErrorBuffer:
    """Give the app its buffer and make sure the dispatcher listens."""
    buffer = ErrorBuffer()
    app.extensions["livelite.errors"] = buffer
    _installed_dispatcher().buffers[id(buffer)] = buffer
    return buffer


def buffer_of(app: Flask) -> ErrorBuffer:
    return app.extensions["livelite.errors"]

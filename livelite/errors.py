"""Error responses: JSON under /api, a friendly page elsewhere, never a stack trace."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, ServiceUnavailable

from livelite.extensions import db
from livelite.services.errors import DomainError


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _friendly_message(code: int, description: str | None) -> str:
    messages = {
        400: _("The request could not be understood."),
        401: _("Log in to continue."),
        403: _("You do not have permission to do this."),
        404: _("This page does not exist, or it was removed."),
        405: _("This action is not allowed here."),
        413: _("The upload is too large."),
        422: _("Some values are not valid."),
        429: _("Too many attempts. Wait a moment and try again."),
        500: _("Something went wrong on our side. Nothing you did; try again in a moment."),
        503: _("The site is busy. Nothing was changed; try again in a moment."),
    }
    # Werkzeug's descriptions are English only; anything unlisted gets a generic line.
    return messages.get(code, _("Something went wrong."))


def json_error(status: int, message: str, errors: dict | None = None):
    body = {"error": {"status": status, "message": message}}
    if errors:
        body["error"]["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    return response


def handle_http_exception(exc: HTTPException):
    code = exc.code or 500
    if code >= 500:
        db.session.rollback()
    errors = None
    # webargs (flask-smorest) puts field messages in exc.data["messages"]
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and "messages" in data:
        messages = data["messages"]
        errors = (
            messages.get("json")
            or messages.get("query")
            or messages.get("form")
            or messages.get("files")
            or messages
        )
        # A body that is not JSON at all gets a bare list; the documented shape is an
        # object of field -> messages, marshmallow's "_schema" for the whole body.
        if isinstance(errors, list):
            errors = {"_schema": errors}
    if code == 400 and exc.__class__.__name__ == "CSRFError":
        message = _("Your form expired or was sent from another site. Reload the page and try again.")
    else:
        message = _friendly_message(code, exc.description)
    # Keep what the exception says in headers (Allow on a 405, Retry-After...).
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    if wants_json():
        response = _challenge(json_error(code, message, errors))
        response.headers.extend(headers)
        return response
    return render_template("errors/error.html", code=code, message=message), code, headers


def _challenge(response):
    # A 401 must say how to authenticate (RFC 9110); API clients use a bearer token.
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def handle_domain_error(exc: DomainError):
    db.session.rollback()
    if wants_json():
        return _challenge(json_error(exc.status, exc.message, exc.errors or None))
    return render_template("errors/error.html", code=exc.status, message=exc.message), exc.status


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    db.session.rollback()
    from flask import current_app

    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return handle_http_exception(InternalServerError())


def handle_overflow(exc: OverflowError):
    """A number too large for the database (an id of 30 digits in a body or a query):
    the request is wrong, not the server. Path ids never get here (``BoundedInt``)."""
    if "INTEGER" not in str(exc):  # SQLite's binding error; anything else is a bug
        return handle_unexpected(exc)
    db.session.rollback()
    return handle_http_exception(BadRequest())


def handle_data_error(exc: DataError):
    """What PostgreSQL refuses from a client where SQLite took it: a number too large
    for an integer column (SQLSTATE 22003, its side of ``handle_overflow``) or a NUL
    character in a text (psycopg refuses to send it)."""
    client_error = getattr(exc.orig, "sqlstate", None) == "22003" or "NUL (0x00)" in str(exc.orig)
    if not client_error:
        return handle_unexpected(exc)
    db.session.rollback()
    return handle_http_exception(BadRequest())


# Seconds a client is told to wait when the database was busy.
BUSY_RETRY_AFTER = 2


def database_busy(exc: BaseException) -> bool:
    """A write that waited for a lock longer than allowed: SQLite's busy timeout
    ("database is locked") or PostgreSQL's lock_timeout (SQLSTATE 55P03). The
    transaction was rolled back whole, so nothing of it was kept."""
    if not isinstance(exc, OperationalError):
        return False
    original = exc.orig
    return getattr(original, "sqlstate", None) == "55P03" or "database is locked" in str(original)


def handle_operational(exc: OperationalError):
    if not database_busy(exc):
        return handle_unexpected(exc)
    db.session.rollback()
    from flask import current_app

    current_app.logger.warning("database busy on %s %s: %s", request.method, request.path, exc.orig)
    busy = ServiceUnavailable(retry_after=BUSY_RETRY_AFTER)
    return handle_http_exception(busy)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_operational)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(OverflowError, handle_overflow)
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(Exception, handle_unexpected)

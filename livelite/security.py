"""Sessions, API tokens and response headers."""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import lazy_gettext as _l

from livelite.extensions import db, login_manager
from livelite.models import User

# Only our own files may run or style the page: no inline script, no third party.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Log in to continue.")
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user)
    login_manager.request_loader(load_user_from_token)

    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    app.after_request(set_security_headers)


def load_user(user_id: str) -> User | None:
    """Session ids are ``<id>:<session_token>``; a rotated token ends old sessions."""
    ident, _, token = (user_id or "").partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or user.is_banned or user.session_token != token:
        return None
    return user


def has_bearer_token(req) -> bool:
    return req.headers.get("Authorization", "").partition(" ")[0].lower() == "bearer"


def load_user_from_token(req) -> User | None:
    """``Authorization: Bearer ll_...`` on API paths only; pages use the session."""
    if not req.path.startswith("/api/") or not has_bearer_token(req):
        return None
    secret = req.headers["Authorization"].partition(" ")[2]
    from livelite.services.tokens import user_for_secret

    found = user_for_secret(secret.strip())
    if found is None:
        g.bad_token = True
        return None
    user, token = found
    g.api_token = token
    return user


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault(
        "Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self), geolocation=()"
    )
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response

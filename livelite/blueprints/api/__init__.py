"""The JSON API under /api/v1, documented by the OpenAPI document it generates.

Authentication is the browser session (unsafe methods then need the CSRF header, as
forms do) or a personal access token (``Authorization: Bearer ll_...``, no CSRF: it
is not sent automatically by browsers). Errors are ``{"error": {"status", "message",
"errors"?}}`` (livelite.errors).
"""

from flask import Flask, g, request
from flask_babel import gettext as _

from livelite.extensions import api, csrf

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def guard():
    """Runs before every API request: refuse bad tokens, check CSRF for session writes."""
    from flask_login import current_user

    from livelite.extensions import login_manager
    from livelite.security import has_bearer_token, load_user_from_token

    if has_bearer_token(request):
        # The explicit credential wins over a session cookie the browser sent along:
        # Flask-Login would otherwise take the session user and never read the token.
        login_manager._update_request_context_with_user(load_user_from_token(request))
    # Flask-Login loads the user lazily; touching it runs the token loader now.
    current_user.is_authenticated  # noqa: B018
    if g.get("bad_token"):
        from livelite.blueprints.api.common import Unauthenticated

        raise Unauthenticated(_("The token is invalid, expired or revoked."))
    # CSRF protects what a session can do; a caller with no session (registering
    # through the API, say) has nothing a forged request could ride on.
    if request.method not in SAFE_METHODS and g.get("api_token") is None and current_user.is_authenticated:
        csrf.protect()
    # Admin operations refuse everyone else before reading the body, so a non-admin
    # learns nothing from validation errors (each service checks the role again).
    if request.path.startswith("/api/v1/admin/") and current_user.is_authenticated:
        from livelite.services.admin import require_admin

        require_admin(current_user)


def register(app: Flask) -> None:
    from livelite.blueprints.api import (
        access,
        accounts,
        admin,
        admin_dashboard,
        analytics,
        cashouts,
        classes,
        docs,
        events,
        feed,
        gifts,
        lives,
        notifications,
        push,
        replays,
        room,
        tokens,
        users,
        videos,
        wallet,
        webhooks,
    )

    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Personal access token (ll_...)"}
    )
    api.spec.components.security_scheme(
        "sessionCookie",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "session",
            "description": "Browser session; unsafe methods also need the X-CSRFToken header.",
        },
    )
    for module in (
        accounts,
        users,
        lives,
        events,
        notifications,
        push,
        tokens,
        admin,
        admin_dashboard,
        access,
        videos,
        feed,
        room,
        gifts,
        cashouts,
        wallet,
        replays,
        webhooks,
        classes,
        analytics,
    ):
        csrf.exempt(module.bp)
        # Blueprints are module-level objects: a second create_app in the same process
        # (tests, scripts) must not add the guard again, which Flask refuses.
        if guard not in module.bp.before_request_funcs.get(None, []):
            module.bp.before_request(guard)
        api.register_blueprint(module.bp)
    app.register_blueprint(docs.bp)

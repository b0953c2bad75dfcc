"""Discovery pages (For You, LIVE, Upcoming), notifications, language, health."""

from flask import current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import text

from livelite.blueprints.main import bp
from livelite.extensions import db, limiter
from livelite.forms import safe_next
from livelite.i18n import LANG_COOKIE
from livelite.services import accounts, discovery, events, lives, policy


@bp.route("/")
def index():
    """For You: lives now interleaved with short videos, then people to follow."""
    viewer = current_user if current_user.is_authenticated else None
    feed = _feed_page(viewer)
    return render_template(
        "main/for_you.html",
        feed=feed,
        suggestions=discovery.suggested_people(viewer, limit=8),
    )


@bp.route("/feed")
def feed_items():
    """The next page of For You as HTML items, appended by the page's infinite scroll."""
    viewer = current_user if current_user.is_authenticated else None
    return render_template("main/_feed_items.html", feed=_feed_page(viewer))


def _feed_page(viewer):
    presence = current_app.extensions["livelite.presence"]
    page = request.args.get("page", 1, type=int) or 1
    return discovery.for_you(viewer, page, presence.count)


@bp.route("/live")
def live_now():
    """Lives happening now that the visitor may watch, newest first, with previews."""
    viewer = current_user if current_user.is_authenticated else None
    presence = current_app.extensions["livelite.presence"]
    current = [
        (live, presence.count(live.id)) for live in lives.current_lives() if lives.can_watch(live, viewer)
    ]
    return render_template("main/live.html", lives=current)


@bp.route("/upcoming")
def upcoming():
    """Scheduled LIVE events, from followed creators first."""
    viewer = current_user if current_user.is_authenticated else None
    may_schedule = viewer is not None and bool(policy.may_go_live(viewer))
    return render_template("main/upcoming.html", events=events.upcoming(viewer), may_schedule=may_schedule)


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch language: saved on the account if logged in, in a cookie otherwise."""
    locale = request.form.get("locale", "")
    if locale not in current_app.config["LANGUAGES"]:
        locale = ""
    if current_user.is_authenticated:
        accounts.set_locale(current_user, locale or None)
    response = make_response(redirect(safe_next(url_for("main.index"))))
    if locale:
        response.set_cookie(
            LANG_COOKIE,
            locale,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=current_app.config["HTTPS"],
            httponly=True,
        )
    else:
        response.delete_cookie(LANG_COOKIE)
    return response


@bp.route("/healthz")
@limiter.exempt
def healthz():
    """Liveness for load balancers: answers ok only if the database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        current_app.logger.exception("health check failed")
        return jsonify(status="error", database="unavailable"), 503
    return jsonify(status="ok")

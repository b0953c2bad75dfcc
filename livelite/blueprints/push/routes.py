"""Web Push pages: the service worker at /sw.js and Settings → Notifications."""

from pathlib import Path

from flask import current_app, flash, redirect, render_template, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.push import bp
from livelite.forms import Form
from livelite.services import push
from livelite.services.errors import NotFound


@bp.route("/sw.js")
def service_worker():
    """The service worker, served from the root so that its scope is the whole site.

    ``no-cache`` makes browsers check for a new version on each registration instead
    of keeping an old worker for up to a day.
    """
    folder = Path(current_app.static_folder) / "js" / "push"
    response = send_from_directory(folder, "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.route("/settings/notifications")
@login_required
def settings():
    """Turn push notifications on or off for this browser; the account's browsers."""
    rows = push.subscriptions_of(current_user)
    return render_template(
        "push/settings.html",
        subscriptions=[(row, push.browser_label(row.user_agent)) for row in rows],
        public_key=push.public_key(),
        form=Form(),
    )


@bp.route("/settings/notifications/<int:subscription_id>/remove", methods=["POST"])
@login_required
def remove(subscription_id: int):
    """Stop pushing to one of the account's browsers (it may be another device)."""
    if Form().validate_on_submit():
        try:
            push.unsubscribe(current_user, subscription_id=subscription_id)
        except NotFound as exc:
            flash(exc.message, "error")
        else:
            flash(_("That browser will no longer get notifications from LiveLite."), "info")
    return redirect(url_for("push.settings"))

"""The notifications page, opening one, marking all read."""

import json

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from livelite.blueprints.notifications import bp
from livelite.forms import Form
from livelite.services import notifications


def target_url(row) -> str:
    """Where a notification leads."""
    if row.kind == "access_requested":
        return url_for("access.admin_queue")
    if row.kind in ("access_approved", "access_refused"):
        return url_for("access.request_page")
    if row.kind == "report":
        return url_for("admin.reports")
    if row.kind == "coin_request":
        return url_for("admin.coins")
    if row.kind in ("coins_approved", "coins_rejected", "coins_granted"):
        return url_for("wallet.index")
    if row.kind == "cashout_requested":
        return url_for("admin.cashouts")
    if row.kind in ("cashout_approved", "cashout_rejected", "cashout_paid"):
        return url_for("earnings.cashouts_page")
    if row.kind == "moderator_added" and row.actor:
        return url_for("profiles.show", username=row.actor.username)
    if row.kind in ("video_ready", "video_failed"):
        video_id = json.loads(row.data or "{}").get("video_id")
        if video_id:
            return url_for("videos.show", video_id=video_id)
    if row.kind in ("replay_ready", "replay_expiring"):
        replay_id = json.loads(row.data or "{}").get("replay_id")
        if replay_id:
            return url_for("replays.index", _anchor=f"replay-{replay_id}")
    if row.kind == "guest_invite" and row.live_id:
        return url_for("studio.guest", live_id=row.live_id)
    if row.live_id:
        return url_for("lives.watch", live_id=row.live_id)
    if row.event_id:
        return url_for("events.show", event_id=row.event_id)
    if row.actor:
        return url_for("profiles.show", username=row.actor.username)
    return url_for("notifications.index")


@bp.route("/notifications")
@login_required
def index():
    rows = notifications.latest(current_user)
    items = [(row, notifications.describe(row), target_url(row)) for row in rows]
    return render_template("notifications/index.html", items=items, form=Form())


@bp.route("/notifications/<int:notification_id>")
@login_required
def open_one(notification_id: int):
    """Mark it read and go where it points."""
    row = notifications.get_own(current_user, notification_id)
    notifications.mark_read(current_user, [row.id])
    return redirect(target_url(row))


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read_all():
    if Form().validate_on_submit():
        notifications.mark_read(current_user)
    return redirect(url_for("notifications.index"))

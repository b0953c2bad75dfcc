"""Admin: the site-wide moderation log (every host's entries). The admin blueprint
checks the admin role before every view (routes._require_admin)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user

from livelite.blueprints.admin import bp
from livelite.extensions import db
from livelite.services import dashboard, moderators

PER_PAGE = 50


@bp.route("/moderation")
def moderation_log():
    """Newest first, filtered by host username and action, 50 a page."""
    host = request.args.get("host", "").strip()
    action = request.args.get("action", "")
    if action not in dashboard.MODERATION_ACTIONS:
        action = ""
    page = db.paginate(
        dashboard.moderation_log(current_user, host, action), per_page=PER_PAGE, error_out=False
    )
    entries = list(page.items)
    found = moderators.lives_of_entries(entries)
    hosts = dashboard.hosts_of(entries)
    rows = [
        (e, hosts.get(e.host_id), found.get(e.live_id), moderators.action_label(e), moderators.detail_of(e))
        for e in entries
    ]
    actions = [(name, moderators.action_label(_Entry(name))) for name in dashboard.MODERATION_ACTIONS]
    return render_template(
        "admin/moderation.html", page=page, rows=rows, host=host, action=action, actions=actions
    )


class _Entry:
    """Just enough of a log entry for ``moderators.action_label``."""

    def __init__(self, action: str):
        self.action = action
        self.detail = ""

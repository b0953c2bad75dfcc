"""Admin: what replays and videos take on disk, and who uses the most
(services.replays.site_storage). The admin blueprint checks the admin role before
every view (routes._require_admin)."""

from __future__ import annotations

from flask import render_template

from livelite.blueprints.admin import bp
from livelite.services import replays

TOP_PEOPLE = 50


@bp.route("/storage")
def storage():
    """The disk (total, free), replays and videos in bytes, the per-person quota, and
    the people using the most, with their share of the quota."""
    figures = replays.site_storage(limit=TOP_PEOPLE)
    disk_used = figures["disk_total_bytes"] - figures["disk_free_bytes"]
    disk_percent = round(100 * disk_used / figures["disk_total_bytes"]) if figures["disk_total_bytes"] else 0
    return render_template(
        "admin/storage.html",
        figures=figures,
        disk_used=disk_used,
        disk_percent=disk_percent,
        quota=figures["quota_bytes"],
    )

"""Admin overview (``/admin/``) and the live monitor. The admin blueprint checks the
admin role before every view (routes._require_admin); the services check it again."""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, url_for
from flask_babel import format_datetime, format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from livelite import errorlog
from livelite.blueprints.admin import bp
from livelite.forms import Form
from livelite.services import dashboard, lives
from livelite.services.errors import DomainError

ERRORS_SHOWN = 20


@bp.route("/")
def index():
    """Lives and viewers now, people, storage, ffmpeg, the queues, recent errors."""
    figures = dashboard.overview(current_user, current_app)
    return render_template(
        "admin/overview.html",
        figures=figures,
        errors=errorlog.buffer_of(current_app).recent(ERRORS_SHOWN),
        failures=dashboard.recent_failures(current_user),
        failure_days=dashboard.FAILURE_DAYS,
    )


def health_text(health: dict) -> dict[str, str]:
    """The health figures as the reader's numbers (the page and its JSON use these)."""

    def number(value, pattern, digits):
        if value is None:
            return "–"
        return pattern % {"n": format_decimal(value, format="#,##0" if digits == 0 else "#,##0.0")}

    return {
        "input_bitrate_kbps": number(health["input_bitrate_kbps"], _("%(n)s kbit/s"), 0),
        "output_fps": number(health["output_fps"] or None, _("%(n)s fps"), 0),
        "keyframe_interval_s": number(health["keyframe_interval_s"], _("%(n)s s"), 1),
        "lag_seconds": number(health["lag_seconds"], _("%(n)s s"), 1),
    }


def state_label(state: str) -> str:
    return {
        "good": _("Healthy"),
        "fair": _("Lagging"),
        "poor": _("Far behind"),
        "unknown": _("No figures yet"),
    }[state]


def _monitor_rows():
    rows = dashboard.live_monitor(current_user, current_app)
    for row in rows:
        for feed in row["feeds"]:
            feed["text"] = health_text(feed["health"])
            feed["state_label"] = state_label(feed["health"]["state"])
    return rows


@bp.route("/lives")
def lives_monitor():
    """Every live now with its feeds' health; figures refresh every 5 s (lives.js)."""
    return render_template("admin/lives.html", rows=_monitor_rows(), form=Form())


@bp.route("/lives.json")
def lives_figures():
    """The live monitor's changing figures, for its script."""
    return jsonify(
        lives=[
            {
                "id": row["live"].id,
                "viewers": row["viewers"],
                "feeds": [
                    {
                        "id": f["id"],
                        "state": f["health"]["state"],
                        "state_label": f["state_label"],
                        **f["text"],
                    }
                    for f in row["feeds"]
                ],
            }
            for row in _monitor_rows()
        ],
        updated=format_datetime(format="medium"),
    )


@bp.route("/lives/<int:live_id>/stop", methods=["GET", "POST"])
def stop_live(live_id: int):
    """GET: ask to confirm. POST: end the live with the reason "admin"; the host is told."""
    live = lives.get_live(live_id)
    form = Form()
    if form.validate_on_submit():
        try:
            dashboard.stop_live(current_user, current_app, live.id)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(
                _(
                    "“%(title)s” by @%(u)s has ended. The host is told an admin ended it.",
                    title=live.title,
                    u=live.host.username,
                ),
                "success",
            )
        return redirect(url_for("admin.lives_monitor"))
    if form.is_submitted():
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
    if not live.is_live:
        flash(_("This live has already ended."), "info")
        return redirect(url_for("admin.lives_monitor"))
    return render_template(
        "admin/stop_live.html", live=live, form=form, end_message=lives.end_message("admin")
    )

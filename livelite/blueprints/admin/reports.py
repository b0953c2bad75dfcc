"""Admin: reports of chat messages and people (services.reports). The admin blueprint
checks the admin role before every view (routes._require_admin)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from livelite.blueprints.admin import bp
from livelite.forms import Form
from livelite.models import ReportStatus
from livelite.services import reports
from livelite.services.errors import DomainError, ValidationFailed
from livelite.services.reports import NOTE_MAX

TABS = ("open", "resolved", "dismissed")


@bp.app_template_global()
def open_reports_count() -> int:
    """For the admin tabs: how many reports wait (admins only; 0 for anyone else)."""
    if not (current_user.is_authenticated and current_user.is_admin):
        return 0
    return reports.open_count()


def _page(
    status: str, errors: dict[int, list[str]] | None = None, notes: dict[int, str] | None = None, code=200
):
    rows = [
        (r, reports.live_of(r), reports.handled_by(r))
        for r in reports.list_reports(current_user, ReportStatus(status))
    ]
    return render_template(
        "admin/reports.html",
        rows=rows,
        status=status,
        tabs=TABS,
        errors=errors or {},
        notes=notes or {},
        note_max=NOTE_MAX,
        form=Form(),
    ), code


@bp.route("/reports", endpoint="reports")
def reports_page():
    """Open reports, oldest first, with what was reported and Resolve / Dismiss; or the
    handled ones (``?status=resolved|dismissed``), latest first."""
    status = request.args.get("status", "open")
    if status not in TABS:
        status = "open"
    return _page(status)


@bp.route("/reports/<int:report_id>/decision", methods=["POST"])
def decide_report(report_id: int):
    row = reports.get_report(report_id)
    if not Form().validate_on_submit():
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
        return redirect(url_for("admin.reports"))
    note = request.form.get("note", "")
    try:
        reports.decide(row, current_user, request.form.get("decision", ""), note)
    except ValidationFailed as exc:
        if "note" in exc.errors:
            return _page("open", errors={row.id: exc.errors["note"]}, notes={row.id: note}, code=422)
        flash(exc.message, "error")
        return redirect(url_for("admin.reports"))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.reports"))
    if row.status == ReportStatus.RESOLVED:
        flash(_("The report about @%(u)s is resolved.", u=row.target.username), "success")
    else:
        flash(_("The report about @%(u)s is dismissed.", u=row.target.username), "info")
    return redirect(url_for("admin.reports"))

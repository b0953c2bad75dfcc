"""The live-access request page (settings) and the admins' queue. Rules live in
services.access; every admin view checks the admin role on the server itself."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.access import bp
from livelite.blueprints.access.forms import AccessRequestForm
from livelite.extensions import db
from livelite.forms import Form
from livelite.services import access, admin, policy
from livelite.services.access import NOTE_MAX
from livelite.services.errors import DomainError, ValidationFailed

HISTORY_PER_PAGE = 20


@bp.app_template_global()
def pending_access_count() -> int:
    """For the admin tabs: how many requests wait (admins only; 0 for anyone else)."""
    if not (current_user.is_authenticated and current_user.is_admin):
        return 0
    return access.pending_count()


@bp.route("/settings/live-access", methods=["GET", "POST"])
@login_required
def request_page():
    """Whether you may go live and why not, the request form, your requests so far."""
    form = AccessRequestForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                access.request_access(current_user, form.reason.data)
            except DomainError as exc:
                if not form.add_errors(exc):
                    flash(exc.message, "error")
                status = exc.status
            else:
                flash(
                    _("Your request is sent. The admins will answer here and in your notifications."),
                    "success",
                )
                return redirect(url_for("access.request_page"))
        else:
            status = 422
    return render_template(
        "access/request.html",
        form=form,
        decision=policy.may_go_live(current_user),
        refusal=access.refusal(current_user),
        requests=access.requests_of(current_user),
    ), status


def _queue_page(errors: dict[int, list[str]] | None = None, notes: dict[int, str] | None = None, status=200):
    today = date.today()
    pending = [
        (row, policy.age_on(row.user.birth_date, today), row.user.follower_count)
        for row in access.pending(current_user)
    ]
    page = request.args.get("page", 1, type=int)
    history = db.paginate(
        access.history_query(current_user), page=page, per_page=HISTORY_PER_PAGE, error_out=False
    )
    return render_template(
        "access/admin_queue.html",
        pending=pending,
        history=history,
        errors=errors or {},
        notes=notes or {},
        note_max=NOTE_MAX,
        form=Form(),
    ), status


@bp.route("/admin/access-requests")
@login_required
def admin_queue():
    """The pending queue (oldest first) with approve and refuse, then the decided ones."""
    admin.require_admin(current_user)
    return _queue_page()


@bp.route("/admin/access-requests/<int:request_id>/decision", methods=["POST"])
@login_required
def decide(request_id: int):
    """Approve or refuse one request, with the admin's note."""
    admin.require_admin(current_user)
    row = access.get_request(request_id)
    if not Form().validate_on_submit():
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
        return redirect(url_for("access.admin_queue"))
    choice = request.form.get("decision")
    note = request.form.get("note", "")
    if choice not in ("approve", "refuse"):
        flash(_("Choose Approve or Refuse."), "error")
        return redirect(url_for("access.admin_queue"))
    try:
        access.decide(current_user, row, choice == "approve", note)
    except ValidationFailed as exc:
        # Back to the queue with the note as typed and the message next to it.
        return _queue_page(
            errors={row.id: exc.errors.get("note", [exc.message])}, notes={row.id: note}, status=422
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("access.admin_queue"))
    person = row.user.username
    if choice == "approve":
        flash(_("@%(u)s may go live now. They are told.", u=person), "success")
    else:
        flash(_("You refused the request of @%(u)s. They are told, with your note.", u=person), "info")
    return redirect(url_for("access.admin_queue"))

"""Admin: creators' cash-out requests (services.cashouts) — approve, reject, mark paid,
export. The admin blueprint checks the admin role before every view
(routes._require_admin); the service checks it again."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from livelite.blueprints.admin import bp
from livelite.extensions import db
from livelite.forms import Form
from livelite.models import CashoutStatus
from livelite.models.base import utcnow
from livelite.services import cashouts
from livelite.services.cashouts import NOTE_MAX
from livelite.services.errors import Conflict, DomainError, ValidationFailed

TABS = ("pending", "approved", "paid", "rejected", "cancelled")
PER_PAGE = 30
# What each decision leads to: a repeat of one's own decision (a double click) is
# told as done, not as a conflict.
OUTCOME = {"approve": CashoutStatus.APPROVED, "reject": CashoutStatus.REJECTED, "paid": CashoutStatus.PAID}


@bp.app_template_global()
def waiting_cashouts_count() -> int:
    """For the admin tabs: cash-outs to handle, pending or approved with money to
    send (admins only; 0 for anyone else)."""
    if not (current_user.is_authenticated and current_user.is_admin):
        return 0
    return cashouts.waiting_count()


def _status() -> str:
    status = request.args.get("status", "pending")
    return status if status in TABS else "pending"


def _page(
    status: str, errors: dict[int, list[str]] | None = None, notes: dict[int, str] | None = None, code=200
):
    page = db.paginate(
        cashouts.admin_query(current_user, CashoutStatus(status)),
        page=request.args.get("page", 1, type=int),
        per_page=PER_PAGE,
        error_out=False,
    )
    return render_template(
        "admin/cashouts.html",
        page=page,
        status=status,
        tabs=TABS,
        counts=cashouts.counts(),
        errors=errors or {},
        notes=notes or {},
        note_max=NOTE_MAX,
        form=Form(),
    ), code


@bp.route("/cashouts", endpoint="cashouts")
def cashouts_page():
    """Pending requests (oldest first) with Approve and Reject; approved ones (money to
    send) with Mark paid; the paid, rejected and cancelled ones (``?status=``)."""
    return _page(_status())


@bp.route("/cashouts/<int:request_id>/decision", methods=["POST"])
def decide_cashout(request_id: int):
    row = cashouts.get_request(request_id)
    back = url_for("admin.cashouts", status=_status())
    if not Form().validate_on_submit():
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
        return redirect(back)
    decision = request.form.get("decision", "")
    note = request.form.get("note", "")
    try:
        cashouts.decide(current_user, row, decision, note)
    except ValidationFailed as exc:
        if "note" in exc.errors:
            return _page(_status(), errors={row.id: exc.errors["note"]}, notes={row.id: note}, code=422)
        flash(exc.message, "error")
        return redirect(back)
    except Conflict as exc:
        db.session.refresh(row)
        if not (OUTCOME.get(decision) == row.status and row.decided_by_id == current_user.id):
            flash(exc.message, "error")
            return redirect(back)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(back)
    who = row.user.username if row.user else _("a deleted account")
    money = cashouts.money(row.amount_cents, row.currency)
    if row.status == CashoutStatus.APPROVED:
        flash(
            _("Approved: send %(money)s to @%(u)s, then mark it paid.", money=money, u=who),
            "success",
        )
    elif row.status == CashoutStatus.REJECTED:
        flash(_("Rejected: the diamonds of @%(u)s are back. They are told, with your note.", u=who), "info")
    else:
        flash(_("Marked paid: %(money)s to @%(u)s.", money=money, u=who), "success")
    return redirect(back)


@bp.route("/cashouts.csv", endpoint="cashouts_csv")
def cashouts_csv():
    """Download the cash-outs of one status (``?status=``), or all of them. The
    byte-order mark makes spreadsheets read the file as UTF-8."""
    status = request.args.get("status", "")
    chosen = CashoutStatus(status) if status in TABS else None
    body = cashouts.export_csv(current_user, chosen)
    response = make_response("\ufeff" + body)
    day = utcnow().strftime("%Y-%m-%d")
    name = f"cashouts-{chosen.value}-{day}.csv" if chosen else f"cashouts-{day}.csv"
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    # Names, emails and bank details: not for shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response

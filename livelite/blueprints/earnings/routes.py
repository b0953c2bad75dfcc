"""A creator's earnings page and their cash-out requests. The rules live in
services.earnings and services.cashouts; these views parse, call and render."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.earnings import bp
from livelite.blueprints.earnings.forms import CashoutForm
from livelite.forms import Form
from livelite.models import CashoutStatus
from livelite.services import cashouts, earnings
from livelite.services.errors import Conflict, DomainError

LIVES_PER_PAGE = 20

# For these pages and the admins' cash-out page (templates/earnings/_macros.html).
bp.add_app_template_global(cashouts.status_label, "cashout_status_label")
bp.add_app_template_global(cashouts.money, "cashout_money")
bp.add_app_template_global(cashouts.diamonds_text, "cashout_number")
bp.add_app_template_global(cashouts.amount_cents, "cashout_amount")


@bp.before_request
@login_required
def _logged_in():
    """Every page here is about the person's own money."""


@bp.route("")
def index():
    """Totals, diamonds per live and per gift, the balance and what it is worth."""
    page = request.args.get("page", 1, type=int)
    return render_template(
        "earnings/index.html",
        totals=earnings.totals(current_user),
        month_start=earnings.month_start(),
        lives=earnings.per_live(current_user, page=page, per_page=LIVES_PER_PAGE),
        gifts=earnings.per_gift(current_user),
        quote=cashouts.quote(current_user),
        pending=cashouts.pending_of(current_user),
    )


def _cashouts_page(form: CashoutForm, status: int = 200):
    quote = cashouts.quote(current_user)
    form.diamonds.render_kw = {
        **(form.diamonds.render_kw or {}),
        "min": quote.minimum,
        "max": max(quote.minimum, quote.diamonds),
        "step": 1,
    }
    return render_template(
        "earnings/cashouts.html",
        form=form,
        quote=quote,
        refusal=cashouts.refusal(current_user),
        requests=cashouts.requests_of(current_user),
        cancel_form=Form(),
    ), status


@bp.route("/cashouts", methods=["GET", "POST"])
def cashouts_page():
    """The request form (with the minimum and today's rate) and the person's requests."""
    form = CashoutForm()
    if not form.is_submitted():
        form.idempotency_key.data = uuid.uuid4().hex
        return _cashouts_page(form)
    if not form.validate():
        return _cashouts_page(form, 422)
    # Rendered into every form; a hand-made post without one still gets a key.
    key = form.idempotency_key.data or uuid.uuid4().hex
    try:
        row, created = cashouts.request_cashout(
            current_user, form.diamonds.data, form.payout_details.data, key
        )
    except DomainError as exc:
        if not form.add_errors(exc):
            flash(exc.message, "error")
        return _cashouts_page(form, exc.status)
    if created:
        flash(
            _(
                "Your cash-out of %(d)s diamonds (%(money)s) is sent to the admins. The diamonds are held until they answer.",
                d=cashouts.diamonds_text(row.diamonds),
                money=cashouts.money(row.amount_cents, row.currency),
            ),
            "success",
        )
    else:
        flash(_("This cash-out request was already sent: here it is."), "info")
    return redirect(url_for("earnings.cashouts_page"))


@bp.route("/cashouts/<int:request_id>/cancel", methods=["POST"])
def cancel(request_id: int):
    """Take back one's own pending request; the held diamonds come back."""
    row = cashouts.get_own(current_user, request_id)
    if not Form().validate_on_submit():
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
        return redirect(url_for("earnings.cashouts_page"))
    try:
        cashouts.cancel(current_user, row)
    except Conflict as exc:
        # A double click: the first one cancelled it, which is what was wanted.
        if row.status != CashoutStatus.CANCELLED:
            flash(exc.message, "error")
            return redirect(url_for("earnings.cashouts_page"))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("earnings.cashouts_page"))
    flash(
        _(
            "Your cash-out is cancelled: %(d)s diamonds are back in your balance.",
            d=cashouts.diamonds_text(row.diamonds),
        ),
        "success",
    )
    return redirect(url_for("earnings.cashouts_page"))

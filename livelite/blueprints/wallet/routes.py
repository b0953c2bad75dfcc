"""The wallet page, asking for coins and cancelling a request. Rules live in
services.coins; the ledger (services.ledger) is the only thing that moves coins."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.wallet import bp
from livelite.extensions import db
from livelite.forms import Form
from livelite.services import coins
from livelite.services.errors import DomainError, ValidationFailed

HISTORY_PER_PAGE = 25


@bp.before_request
@login_required
def _logged_in():
    """Every wallet page is the person's own."""


def new_key() -> str:
    """A fresh idempotency key for a form: a double click sends it twice, a new page anew."""
    return uuid.uuid4().hex


def _page(errors: dict[str, list[str]] | None = None, values: dict | None = None, status: int = 200):
    page = db.paginate(
        coins.history_query(current_user),
        page=request.args.get("page", 1, type=int),
        per_page=HISTORY_PER_PAGE,
        error_out=False,
    )
    values = values or {}
    providers = coins.providers()
    return render_template(
        "wallet/index.html",
        summary=coins.wallet_summary(current_user),
        refusal=coins.purchase_refusal(current_user),
        packages=coins.active_packages(),
        providers=providers,
        requests=coins.requests_of(current_user),
        history=page,
        items=coins.explain(page.items),
        errors=errors or {},
        chosen_package=values.get("package_id"),
        chosen_provider=values.get("provider") or providers[0].name,
        key=values.get("idempotency_key") or new_key(),
        max_pending=coins.MAX_PENDING,
        money=coins.money,
        number=format_decimal,
        form=Form(),
    ), status


@bp.route("")
def index():
    """Balances, the packages on sale, the person's requests and their history."""
    return _page()


@bp.route("/coin-requests", methods=["POST"])
def request_coins():
    """Ask for a package; the form's key makes a double click one request."""
    if not Form().validate_on_submit():
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
        return redirect(url_for("wallet.index"))
    values = {
        "package_id": request.form.get("package_id", type=int),
        "provider": request.form.get("provider", "manual"),
        "idempotency_key": request.form.get("idempotency_key", ""),
    }
    if values["package_id"] is None:
        return _page({"package_id": [_("Choose a package.")]}, values, 422)
    try:
        made = coins.request_coins(
            current_user, values["package_id"], values["provider"], values["idempotency_key"]
        )
    except ValidationFailed as exc:
        return _page(exc.errors, values, 422)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("wallet.index"))
    row = made.request
    if row.status.value == "approved":
        flash(
            _("%(coins)s coins are in your wallet.", coins=format_decimal(row.coins)),
            "success",
        )
    else:
        flash(
            _(
                "Your request for %(coins)s coins is sent. An admin approves it once you have paid; "
                "you will be told in your notifications.",
                coins=format_decimal(row.coins),
            ),
            "success",
        )
    return redirect(url_for("wallet.index"))


@bp.route("/coin-requests/<int:request_id>/cancel", methods=["POST"])
def cancel_request(request_id: int):
    """Take back one of your own pending requests."""
    row = coins.get_own_request(current_user, request_id)
    if not Form().validate_on_submit():
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
        return redirect(url_for("wallet.index"))
    try:
        coins.cancel(current_user, row)
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(_("Your request for %(coins)s coins is cancelled.", coins=format_decimal(row.coins)), "info")
    return redirect(url_for("wallet.index"))

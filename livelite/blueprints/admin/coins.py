"""Admin: coin requests to approve or reject, granting coins, the packages on sale
(services.coins). The admin blueprint checks the admin role before every view
(routes._require_admin); the service checks it again."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from livelite.blueprints.admin import bp
from livelite.extensions import db
from livelite.forms import Form
from livelite.services import coins, policy
from livelite.services.errors import DomainError, ValidationFailed

DECIDED_PER_PAGE = 20


@bp.app_template_global()
def pending_coin_requests_count() -> int:
    """For the admin tabs: how many coin requests wait (admins only; 0 for anyone else)."""
    if not (current_user.is_authenticated and current_user.is_admin):
        return 0
    return coins.pending_count()


def _page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    """The whole page; ``errors`` and ``values`` are per form: ``{"decision": {id: [...]},
    "grant": {field: [...]}, "package": {id or "new": {field: [...]}}}``."""
    errors = errors or {}
    values = values or {}
    today = date.today()
    pending = [
        (row, policy.age_on(row.user.birth_date, today)) for row in coins.pending_requests(current_user)
    ]
    decided = db.paginate(
        coins.decided_query(current_user),
        page=request.args.get("page", 1, type=int),
        per_page=DECIDED_PER_PAGE,
        error_out=False,
    )
    grant_values = values.get("grant", {})
    return render_template(
        "admin/coins.html",
        pending=pending,
        decided=decided,
        grants=coins.recent_grants(current_user),
        packages=coins.all_packages(current_user),
        errors=errors,
        values=values,
        grant_values=grant_values,
        grant_key=grant_values.get("idempotency_key") or uuid.uuid4().hex,
        note_max=coins.NOTE_MAX,
        memo_max=coins.MEMO_MAX,
        coins_max=coins.COINS_MAX,
        price_max=coins.PRICE_MAX_CENTS / 100,
        money=coins.money,
        number=format_decimal,
        price_input=_price_input,
        form=Form(),
    ), status


def _price_input(cents: int) -> str:
    """A price as the form shows it: 4.99 (two decimals, a dot: what type=number sends)."""
    return f"{Decimal(cents) / 100:.2f}"


def _cents(text: str | None) -> int:
    """Cents from what an admin typed ("4.99", "4,99", "5"); ValidationFailed otherwise."""
    raw = (text or "").strip().replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    message = _("Give a price such as 4.99, with at most two decimals.")
    if value is None or not value.is_finite():
        raise ValidationFailed({"price_cents": [message]})
    if abs(value) > coins.PRICE_MAX_CENTS:
        # Out of range anyway: the service words the limits (and no huge number is made).
        return coins.PRICE_MAX_CENTS + 1
    if (value * 100) != (value * 100).to_integral_value():
        raise ValidationFailed({"price_cents": [message]})
    return int(value * 100)


def _expired():
    flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
    return redirect(url_for("admin.coins"))


@bp.route("/coins", endpoint="coins")
def coins_page():
    """Pending coin requests (oldest first) with Approve / Reject, the grant form, the
    decisions so far and the packages."""
    return _page()


@bp.route("/coins/requests/<int:request_id>/decision", methods=["POST"])
def decide_coin_request(request_id: int):
    """Approve (the coins are credited once) or reject with a note the person reads."""
    row = coins.get_request(request_id)
    if not Form().validate_on_submit():
        return _expired()
    choice = request.form.get("decision", "")
    note = request.form.get("note", "")
    try:
        coins.decide(current_user, row, choice, note)
    except ValidationFailed as exc:
        if "note" in exc.errors:
            return _page(
                errors={"decision": {row.id: exc.errors["note"]}},
                values={"decision": {row.id: note}},
                status=422,
            )
        flash(exc.message, "error")
        return redirect(url_for("admin.coins"))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.coins"))
    who = row.user.username if row.user else "?"
    if choice == "approve":
        flash(
            _("@%(u)s has %(coins)s more coins. They are told.", u=who, coins=format_decimal(row.coins)),
            "success",
        )
    else:
        flash(_("You rejected the request of @%(u)s. They are told, with your note.", u=who), "info")
    return redirect(url_for("admin.coins"))


@bp.route("/coins/grants", methods=["POST"])
def grant_coins():
    """Give coins to a person; the form's hidden key makes a double click one grant."""
    if not Form().validate_on_submit():
        return _expired()
    values = {
        "username": request.form.get("username", ""),
        "coins": request.form.get("coins", ""),
        "memo": request.form.get("memo", ""),
        "idempotency_key": request.form.get("idempotency_key", ""),
    }
    try:
        done = coins.grant(
            current_user, values["username"], values["coins"], values["memo"], values["idempotency_key"]
        )
    except ValidationFailed as exc:
        return _page(errors={"grant": exc.errors}, values={"grant": values}, status=422)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.coins"))
    flash(
        _(
            "@%(u)s received %(coins)s coins. They are told, with your reason.",
            u=done.user.username,
            coins=format_decimal(done.coins),
        ),
        "success",
    )
    return redirect(url_for("admin.coins") + "#grant-title")


def _package_values() -> tuple[dict, dict]:
    values = {"coins": request.form.get("coins", ""), "price": request.form.get("price", "")}
    errors: dict[str, list[str]] = {}
    try:
        values["price_cents"] = _cents(values["price"])
    except ValidationFailed as exc:
        errors.update(exc.errors)
    return values, errors


@bp.route("/coins/packages", methods=["POST"])
def create_coin_package():
    """Put a new package on sale."""
    if not Form().validate_on_submit():
        return _expired()
    values, errors = _package_values()
    errors = {**coins.package_errors(coins=values["coins"]), **errors}
    try:
        if errors:
            raise ValidationFailed(errors)
        row = coins.create_package(current_user, values["coins"], values["price_cents"])
    except ValidationFailed as exc:
        return _page(errors={"package": {"new": exc.errors}}, values={"package": {"new": values}}, status=422)
    flash(
        _(
            "%(coins)s coins for %(price)s are on sale.",
            coins=format_decimal(row.coins),
            price=coins.money(row.price_cents, row.currency),
        ),
        "success",
    )
    return redirect(url_for("admin.coins") + "#packages-title")


@bp.route("/coins/packages/<int:package_id>", methods=["POST"])
def update_coin_package(package_id: int):
    """Save a package's coins and price, or retire it / put it back on sale."""
    row = coins.get_package(package_id)
    if not Form().validate_on_submit():
        return _expired()
    action = request.form.get("action", "save")
    if action in ("retire", "reactivate"):
        coins.update_package(current_user, row, active=action == "reactivate")
        if row.active:
            flash(
                _("The package of %(coins)s coins is on sale again.", coins=format_decimal(row.coins)),
                "success",
            )
        else:
            flash(
                _(
                    "The package of %(coins)s coins is retired: nobody can ask for it.",
                    coins=format_decimal(row.coins),
                ),
                "info",
            )
        return redirect(url_for("admin.coins") + "#packages-title")
    values, errors = _package_values()
    errors = {**coins.package_errors(coins=values["coins"]), **errors}
    try:
        if errors:
            raise ValidationFailed(errors)
        coins.update_package(current_user, row, coins=values["coins"], price_cents=values["price_cents"])
    except ValidationFailed as exc:
        return _page(
            errors={"package": {row.id: exc.errors}},
            values={"package": {row.id: values}},
            status=422,
        )
    flash(
        _(
            "Saved: %(coins)s coins for %(price)s.",
            coins=format_decimal(row.coins),
            price=coins.money(row.price_cents, row.currency),
        ),
        "success",
    )
    return redirect(url_for("admin.coins") + "#packages-title")

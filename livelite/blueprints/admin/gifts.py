"""Admin: the gift catalogue (services.gifts): add a gift, edit one, retire it or bring
it back. The admin blueprint checks the admin role before every view
(routes._require_admin); the service checks it again."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from livelite.blueprints.admin import bp
from livelite.forms import Form
from livelite.models import GiftAnimation
from livelite.services import gifts
from livelite.services.errors import DomainError, ValidationFailed

FIELDS = ("name", "icon", "coins", "animation", "position")


def _form_values() -> dict:
    values = {name: request.form.get(name, "") for name in FIELDS}
    # An empty position means "last" when adding, "unchanged" when editing.
    if not values["position"].strip():
        values["position"] = None
    return values


def _context(**extra) -> dict:
    return {
        "icons": gifts.available_icons(),
        "animations": [(a.value, gifts.animation_label(a)) for a in GiftAnimation],
        "icon_url": gifts.icon_url,
        "display_name": gifts.display_name,
        "animation_label": gifts.animation_label,
        "number": format_decimal,
        "coins_max": gifts.COINS_MAX,
        "name_max": gifts.NAME_MAX,
        "position_max": gifts.POSITION_MAX,
        "form": Form(),
        **extra,
    }


def _list_page(errors: dict | None = None, values: dict | None = None, status: int = 200):
    listed = gifts.catalogue(include_retired=True)
    return render_template(
        "admin/gifts.html",
        **_context(
            active=[g for g in listed if g.active],
            retired=[g for g in listed if not g.active],
            errors=errors or {},
            values=values or {"animation": GiftAnimation.FLOAT.value},
        ),
    ), status


def _expired(target: str):
    flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
    return redirect(target)


@bp.route("/gifts", endpoint="gifts")
def gifts_page():
    """The catalogue as viewers see it in the picker, the retired gifts, and the form
    to add one."""
    return _list_page()


@bp.route("/gifts", methods=["POST"])
def create_gift():
    if not Form().validate_on_submit():
        return _expired(url_for("admin.gifts"))
    values = _form_values()
    try:
        gift = gifts.create_gift(current_user, **values)
    except ValidationFailed as exc:
        return _list_page(errors=exc.errors, values=values, status=422)
    flash(_("“%(name)s” is in the catalogue.", name=gift.name), "success")
    return redirect(url_for("admin.gifts") + f"#gift-{gift.id}")


@bp.route("/gifts/<int:gift_id>", methods=["GET", "POST"])
def edit_gift(gift_id: int):
    """Change a gift's name, icon, cost, animation or position; gifts already sent keep
    the cost they had."""
    gift = gifts.get_gift(gift_id)
    errors: dict = {}
    values = {
        "name": gift.name,
        "icon": gift.icon,
        "coins": gift.coins,
        "animation": gift.animation.value,
        "position": gift.position,
    }
    if request.method == "POST":
        if not Form().validate_on_submit():
            return _expired(url_for("admin.edit_gift", gift_id=gift.id))
        values = _form_values()
        changes = {k: v for k, v in values.items() if v is not None}
        try:
            gifts.update_gift(current_user, gift.id, **changes)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(_("“%(name)s” is saved.", name=gift.name), "success")
            return redirect(url_for("admin.gifts") + f"#gift-{gift.id}")
    return render_template("admin/gifts_edit.html", **_context(gift=gift, errors=errors, values=values)), (
        422 if errors else 200
    )


@bp.route("/gifts/<int:gift_id>/active", methods=["POST"])
def set_gift_active(gift_id: int):
    """Retire a gift (out of every picker at once; its history stays) or bring it back."""
    if not Form().validate_on_submit():
        return _expired(url_for("admin.gifts"))
    active = request.form.get("active") == "1"
    try:
        gift = gifts.update_gift(current_user, gift_id, active=active)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.gifts"))
    if active:
        flash(_("“%(name)s” can be sent again.", name=gift.name), "success")
    else:
        flash(_("“%(name)s” is retired: nobody can send it any more.", name=gift.name), "info")
    return redirect(url_for("admin.gifts") + f"#gift-{gift.id}")

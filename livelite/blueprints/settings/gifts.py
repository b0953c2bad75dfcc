"""Settings → Gifts: whether people may send you gifts in your lives (Wallet.accepts_gifts)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from livelite.blueprints.settings import bp
from livelite.forms import Form
from livelite.services import gifts, policy


@bp.route("/gifts", methods=["GET", "POST"])
def gifts_settings():
    """The switch, with why gifts cannot reach you anyway when you are too young."""
    form = Form()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(
                _("Your form expired or was sent from another site. Reload the page and try again."), "error"
            )
            return redirect(url_for("settings.gifts_settings"))
        on = gifts.set_accepts_gifts(current_user, "1" in request.form.getlist("accepts_gifts"))
        if on:
            flash(_("Viewers can send you gifts in your lives."), "success")
        else:
            flash(_("Gifts are off: nobody can send you a gift until you turn them back on."), "info")
        return redirect(url_for("settings.gifts_settings"))
    return render_template(
        "settings/gifts.html",
        form=form,
        accepts=gifts.accepts_gifts(current_user.id),
        may_receive=policy.may_receive_gifts(current_user),
    )

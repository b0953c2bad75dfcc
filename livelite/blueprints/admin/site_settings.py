"""Admin: every site setting on one page, and the registration invite codes used while
registration is closed. The admin blueprint checks the admin role before every view
(routes._require_admin); the services check it again."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from livelite.blueprints.admin import bp
from livelite.forms import Form
from livelite.services import dashboard, registration, settings
from livelite.services.errors import DomainError, ValidationFailed


def _number(value) -> str:
    return format_decimal(value) if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _settings_page(typed: dict | None = None, errors: dict | None = None, status: int = 200):
    from flask import current_app

    current = settings.all_settings()
    groups = [
        (
            slug,
            title,
            [
                {
                    "key": key,
                    "spec": settings.SETTINGS[key],
                    "is_bool": settings.SETTINGS[key].type is bool,
                    "lo": _number(settings.SETTINGS[key].minimum),
                    "hi": _number(settings.SETTINGS[key].maximum),
                    "default_text": _number(current_app.config[key]),
                    "value_text": _number(current[key]),
                    "value": current[key],
                    "default": current_app.config[key],
                    "shown": (typed or {}).get(key, current[key]),
                    "errors": (errors or {}).get(key, []),
                }
                for key in keys
            ],
        )
        for slug, title, keys in dashboard.grouped_settings()
    ]
    return render_template(
        "admin/settings.html", groups=groups, form=Form(), error_count=len(errors or {})
    ), status


@bp.route("/settings", methods=["GET", "POST"])
def site_settings():
    """GET: every setting with its value, default and range. POST: validate all the
    fields; on any problem nothing is saved and every field keeps what was typed."""
    if request.method == "GET":
        return _settings_page()
    if not Form().validate_on_submit():
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
        return _settings_page(status=400)
    typed = {key: request.form[key] for key in settings.SETTINGS if key in request.form}
    try:
        changed = dashboard.save_settings(current_user, typed)
    except ValidationFailed as exc:
        flash(_("Nothing was saved: check the fields marked below."), "error")
        return _settings_page(typed, exc.errors, 422)
    if changed:
        flash(
            _("Saved: %(names)s.", names=", ".join(str(settings.SETTINGS[k].label) for k in changed)),
            "success",
        )
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("admin.site_settings"))


class InviteForm(Form):
    note = StringField(
        _l("Note"),
        validators=[Optional(), Length(max=registration.NOTE_MAX)],
        description=_l("Who it is for; only admins see it."),
        render_kw={"maxlength": registration.NOTE_MAX},
    )
    max_uses = IntegerField(
        _l("Uses"),
        default=1,
        validators=[
            Optional(),
            NumberRange(1, registration.MAX_USES_LIMIT, _l("Enter a number from %(min)s to %(max)s.")),
        ],
        description=_l("How many accounts it may create; empty: no limit."),
        render_kw={"min": 1, "max": registration.MAX_USES_LIMIT, "inputmode": "numeric"},
    )
    expires_in_days = IntegerField(
        _l("Valid for (days)"),
        default=30,
        validators=[
            Optional(),
            NumberRange(1, registration.EXPIRY_DAYS_LIMIT, _l("Enter a number from %(min)s to %(max)s.")),
        ],
        description=_l("Empty: until revoked."),
        render_kw={"min": 1, "max": registration.EXPIRY_DAYS_LIMIT, "inputmode": "numeric"},
    )


def _invites_page(form: InviteForm | None = None, status: int = 200, created=None):
    rows = [(invite, registration.state_of(invite)) for invite in registration.list_invites(current_user)]
    return render_template(
        "admin/invites.html",
        form=form or InviteForm(formdata=None),
        rows=rows,
        action_form=Form(),
        registration_open=settings.get_setting("REGISTRATION_OPEN"),
        format_code=registration.format_code,
        created=created,
    ), status


@bp.route("/settings/invites", methods=["GET", "POST"])
def registration_invites():
    """The codes with their uses; POST makes a new one and shows it."""
    if request.method == "GET":
        return _invites_page()
    form = InviteForm()
    if not form.validate_on_submit():
        return _invites_page(form, 422)
    try:
        invite = registration.create_invite(
            current_user,
            note=form.note.data or "",
            max_uses=form.max_uses.data,
            expires_in_days=form.expires_in_days.data,
        )
    except DomainError as exc:
        if not form.add_errors(exc):
            flash(exc.message, "error")
        return _invites_page(form, exc.status)
    flash(_("New invite code: %(code)s", code=registration.format_code(invite.code)), "success")
    return redirect(url_for("admin.registration_invites"))


@bp.route("/settings/invites/<int:invite_id>/revoke", methods=["POST"])
def revoke_registration_invite(invite_id: int):
    """Stop a code from working; accounts made with it stay."""
    invite = registration.get_invite(invite_id)
    if Form().validate_on_submit():
        registration.revoke_invite(current_user, invite)
        flash(_("The code %(code)s no longer works.", code=registration.format_code(invite.code)), "success")
    else:
        flash(_("Your form expired or was sent from another site. Reload the page and try again."), "error")
    return redirect(url_for("admin.registration_invites"))

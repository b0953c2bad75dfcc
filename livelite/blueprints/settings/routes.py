"""Settings: profile and avatar, password, language, account deletion, API tokens."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from livelite.blueprints.settings import bp
from livelite.blueprints.settings.forms import (
    AvatarForm,
    DeleteAccountForm,
    LanguageForm,
    PasswordForm,
    ProfileForm,
    TokenForm,
)
from livelite.forms import Form
from livelite.services import accounts, tokens
from livelite.services.errors import DomainError


@bp.before_request
@login_required
def _require_login():
    """Every settings page is about the logged-in person."""


def _token_form() -> TokenForm:
    form = TokenForm()
    form.scopes.choices = [
        (name, _("%(scope)s: %(label)s", scope=name, label=label)) for name, label in tokens.SCOPES.items()
    ]
    return form


def _profile_page(profile_form=None, avatar_form=None, status=200):
    profile_form = profile_form or ProfileForm(obj=current_user)
    return render_template(
        "settings/profile.html",
        profile_form=profile_form,
        avatar_form=avatar_form or AvatarForm(),
        remove_form=Form(),
    ), status


def _account_page(password_form=None, language_form=None, delete_form=None, status=200):
    language_form = language_form or LanguageForm(locale=current_user.locale or "")
    return render_template(
        "settings/account.html",
        password_form=password_form or PasswordForm(),
        language_form=language_form,
        delete_form=delete_form or DeleteAccountForm(prefix="delete"),
    ), status


@bp.route("/")
def index():
    return redirect(url_for("settings.profile"))


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            accounts.update_profile(current_user, display_name=form.display_name.data, bio=form.bio.data)
        except DomainError as exc:
            form.add_errors(exc)
            return _profile_page(profile_form=form, status=422)
        flash(_("Your profile is saved."), "success")
        return redirect(url_for("settings.profile"))
    if form.is_submitted():
        return _profile_page(profile_form=form, status=422)
    return _profile_page()


@bp.route("/avatar", methods=["POST"])
def avatar():
    """Upload a picture; OpenCV re-encodes it as a square JPEG (see media.images)."""
    form = AvatarForm()
    if form.validate_on_submit():
        try:
            accounts.set_avatar(current_user, form.avatar.data.read())
        except DomainError as exc:
            form.add_errors(exc)
            return _profile_page(avatar_form=form, status=422)
        flash(_("Your new picture is in place."), "success")
        return redirect(url_for("settings.profile"))
    return _profile_page(avatar_form=form, status=422)


@bp.route("/avatar/remove", methods=["POST"])
def remove_avatar():
    if Form().validate_on_submit():
        accounts.remove_avatar(current_user)
        flash(_("Your picture was removed."), "info")
    return redirect(url_for("settings.profile"))


@bp.route("/account")
def account():
    return _account_page()


@bp.route("/password", methods=["POST"])
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, form.current_password.data, form.new_password.data)
        except DomainError as exc:
            form.add_errors(exc)
            return _account_page(password_form=form, status=422)
        # The session token rotated; log this browser back in with the new one.
        from flask_login import login_user

        login_user(current_user._get_current_object())
        flash(_("Your password is changed. Other sessions were logged out."), "success")
        return redirect(url_for("settings.account"))
    return _account_page(password_form=form, status=422)


@bp.route("/language", methods=["POST"])
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        accounts.set_locale(current_user, form.locale.data or None)
        flash(_("Language saved."), "success")
        return redirect(url_for("settings.account"))
    return _account_page(language_form=form, status=422)


@bp.route("/delete", methods=["POST"])
def delete():
    form = DeleteAccountForm(prefix="delete")
    if form.validate_on_submit():
        try:
            accounts.delete_account(current_user._get_current_object(), form.password.data)
        except DomainError as exc:
            if not form.add_errors(exc):
                flash(exc.message, "error")
            return _account_page(delete_form=form, status=exc.status)
        logout_user()
        flash(_("Your account and everything in it were deleted."), "info")
        return redirect(url_for("main.index"))
    return _account_page(delete_form=form, status=422)


@bp.route("/tokens", methods=["GET", "POST"])
def api_tokens():
    """List, create and revoke personal access tokens; a new secret is shown once."""
    form = _token_form()
    secret = None
    status = 200
    if form.validate_on_submit():
        try:
            _token, secret = tokens.create_token(
                current_user, form.name.data, form.scopes.data, form.expires_in_days.data
            )
        except DomainError as exc:
            form.add_errors(exc)
            status = 422
        else:
            form = _token_form()
            form.name.data = ""
    elif form.is_submitted():
        status = 422
    return render_template(
        "settings/tokens.html",
        form=form,
        secret=secret,
        tokens=tokens.list_tokens(current_user),
        revoke_form=Form(),
    ), status


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    if Form().validate_on_submit():
        tokens.revoke_token(current_user, token_id)
        flash(_("The token was revoked; it no longer works."), "info")
    return redirect(url_for("settings.api_tokens"))

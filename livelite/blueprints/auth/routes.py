"""Register, log in, log out."""

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from livelite.blueprints.auth import bp
from livelite.blueprints.auth.forms import LoginForm, LogoutForm, RegisterForm
from livelite.extensions import limiter
from livelite.forms import safe_next
from livelite.models import Role
from livelite.services import accounts, push
from livelite.services.errors import DomainError
from livelite.services.settings import get_setting


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _register_limit():
    return current_app.config["REGISTER_RATE_LIMIT"]


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register():
    """Create an account and log straight in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = RegisterForm()
    user = None
    if form.is_submitted():  # CSRFProtect has already refused forged posts
        form.validate()
        # The service checks every rule at once; run it even when a field is missing
        # so that people see all problems in one round, not one round per field.
        try:
            user = accounts.register(
                username=form.username.data or "",
                display_name=form.display_name.data or "",
                email=form.email.data or "",
                password=form.password.data or "",
                birth_date=form.birth_date.data,
                invite_code=form.invite_code.data,
            )
        except DomainError as exc:
            if not form.add_errors(exc, only_empty=True):
                flash(exc.message, "error")
    if user is not None:
        login_user(user)
        flash(_("Welcome to LiveLite, %(name)s!", name=user.display_name), "success")
        if user.role == Role.ADMIN:
            flash(_("You are the first person here, so you are the site admin."), "info")
        return redirect(safe_next(url_for("profiles.show", username=user.username)))
    return render_template(
        "auth/register.html", form=form, registration_open=get_setting("REGISTRATION_OPEN")
    )


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Log in with username or email; "remember me" keeps the session for 30 days."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.login.data, form.password.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(url_for("main.index")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """POST only, with CSRF, so a link on another site cannot log people out.

    The form may carry this browser's push endpoint: the person's subscription for it
    is removed, so the browser stops showing their notifications once they have left.
    """
    form = LogoutForm()
    if form.validate_on_submit():
        push.forget_browser(current_user, form.push_endpoint.data or "")
        logout_user()
        flash(_("You are logged out."), "info")
    return redirect(url_for("main.index"))

"""Admin pages: people, roles and bans (the overview is in dashboard.py)."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.admin import bp
from livelite.extensions import db
from livelite.forms import Form
from livelite.models import Role, User
from livelite.services import admin
from livelite.services.errors import DomainError, NotFound
from livelite.templating import role_label


@bp.before_request
@login_required
def _require_admin():
    admin.require_admin(current_user)


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


@bp.route("/users")
def users():
    query = request.args.get("q", "")
    page = db.paginate(admin.search_users(current_user, query), per_page=50, error_out=False)
    return render_template("admin/users.html", page=page, q=query, roles=list(Role), form=Form())


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def set_role(user_id: int):
    user = _user(user_id)
    if Form().validate_on_submit():
        try:
            admin.change_role(current_user, user, Role(request.form.get("role", "")))
        except ValueError:
            flash(_("Unknown role."), "error")
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            flash(_("@%(u)s is now %(r)s.", u=user.username, r=role_label(user.role)), "success")
    return redirect(url_for("admin.users", q=request.args.get("q", "")))


@bp.route("/users/<int:user_id>/ban", methods=["POST"])
def set_ban(user_id: int):
    user = _user(user_id)
    if Form().validate_on_submit():
        banned = request.form.get("banned") == "1"
        try:
            admin.ban(current_user, user, banned)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            message = (
                _("@%(u)s is banned.", u=user.username)
                if banned
                else _("@%(u)s is no longer banned.", u=user.username)
            )
            flash(message, "success")
    return redirect(url_for("admin.users", q=request.args.get("q", "")))

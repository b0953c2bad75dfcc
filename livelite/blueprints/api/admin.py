"""Admin operations on people."""

import marshmallow as ma
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import (
    AUTH_DOC,
    ApiErrorSchema,
    PageArgs,
    UserSchema,
    page_payload,
    require,
    user_payload,
)
from livelite.extensions import db
from livelite.models import Role, User
from livelite.services import admin
from livelite.services.errors import NotFound

bp = Blueprint("api_admin", __name__, url_prefix="/api/v1/admin", description="Administration (admins only)")


class AdminUserSchema(UserSchema):
    id = ma.fields.Int()
    email = ma.fields.Str()
    is_banned = ma.fields.Bool()


class AdminUserPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminUserSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class SearchArgs(PageArgs):
    q = ma.fields.Str(load_default="")


class RoleSchema(ma.Schema):
    role = ma.fields.Str(required=True, validate=ma.validate.OneOf([r.value for r in Role]))


class BanSchema(ma.Schema):
    banned = ma.fields.Bool(required=True)


def admin_user_payload(user: User) -> dict:
    return {**user_payload(user), "id": user.id, "email": user.email, "is_banned": user.is_banned}


def _user(user_id: int) -> User:
    admin.require_admin(current_user)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


@bp.route("/users")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(SearchArgs, location="query")
@bp.response(200, AdminUserPageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def users(args):
    """Search people by username, display name or email."""
    stmt = admin.search_users(current_user, args["q"])
    page = db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False)
    return page_payload(page, admin_user_payload)


@bp.route("/users/<int:user_id>/role", methods=["PUT"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(RoleSchema)
@bp.response(200, AdminUserSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="The last admin cannot lose the role.")
def set_role(data, user_id):
    """Give a role: admin, moderator, creator (may go live) or member."""
    user = _user(user_id)
    admin.change_role(current_user, user, Role(data["role"]))
    return admin_user_payload(user)


@bp.route("/users/<int:user_id>/ban", methods=["PUT"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(BanSchema)
@bp.response(200, AdminUserSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def set_ban(data, user_id):
    """Ban (ends every session and token use) or unban."""
    user = _user(user_id)
    admin.ban(current_user, user, data["banned"])
    return admin_user_payload(user)

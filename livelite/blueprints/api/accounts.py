"""The caller's own account: register, me, profile, avatar, password, deletion."""

import marshmallow as ma
from flask import current_app
from flask_login import current_user, logout_user
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, UserSchema, require, user_payload
from livelite.extensions import limiter
from livelite.services import accounts, policy

bp = Blueprint("api_accounts", __name__, url_prefix="/api/v1", description="Your account")


class DecisionSchema(ma.Schema):
    allowed = ma.fields.Bool(required=True)
    reasons = ma.fields.List(ma.fields.Str())


class MeSchema(UserSchema):
    email = ma.fields.Email()
    locale = ma.fields.Str(allow_none=True)
    may_go_live = ma.fields.Nested(DecisionSchema)
    may_send_gifts = ma.fields.Nested(DecisionSchema)


class RegisterSchema(ma.Schema):
    username = ma.fields.Str(required=True)
    display_name = ma.fields.Str(required=True)
    email = ma.fields.Str(required=True)
    password = ma.fields.Str(required=True, load_only=True)
    birth_date = ma.fields.Date(required=True)
    invite_code = ma.fields.Str(
        load_only=True,
        metadata={"description": "A registration invite code; needed while registration is closed."},
    )


class ProfileUpdateSchema(ma.Schema):
    display_name = ma.fields.Str()
    bio = ma.fields.Str()
    locale = ma.fields.Str(allow_none=True, metadata={"enum": ["en", "fr", None]})


class PasswordSchema(ma.Schema):
    current_password = ma.fields.Str(required=True)
    new_password = ma.fields.Str(required=True)


class DeleteSchema(ma.Schema):
    password = ma.fields.Str(required=True)


class AvatarSchema(ma.Schema):
    avatar = Upload(required=True)


def me_payload(user) -> dict:
    data = user_payload(user)
    go_live, gifts = policy.may_go_live(user), policy.may_send_gifts(user)
    data.update(
        email=user.email,
        locale=user.locale,
        may_go_live={"allowed": go_live.allowed, "reasons": go_live.reasons},
        may_send_gifts={"allowed": gifts.allowed, "reasons": gifts.reasons},
    )
    return data


@bp.route("/accounts", methods=["POST"])
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"])
@bp.arguments(RegisterSchema)
@bp.response(201, MeSchema)
@bp.alt_response(422, schema=ApiErrorSchema, description="A rule is not met; errors per field.")
def register(data):
    """Create an account. The first account on a site becomes its admin."""
    return me_payload(accounts.register(**data))


@bp.route("/me", methods=["GET"])
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, MeSchema)
@bp.alt_response(401, schema=ApiErrorSchema)
def me():
    """The caller's account, with what they may do (go live, gifts) and why not."""
    return me_payload(current_user)


@bp.route("/me", methods=["PATCH"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ProfileUpdateSchema)
@bp.response(200, MeSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def update_me(data):
    """Change display name, bio or language (null: follow the browser)."""
    if "locale" in data:
        accounts.set_locale(current_user, data.pop("locale"))
    accounts.update_profile(current_user, **data)
    return me_payload(current_user)


@bp.route("/me", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(DeleteSchema)
@bp.response(204)
@bp.alt_response(409, schema=ApiErrorSchema, description="The only admin cannot leave.")
def delete_me(data):
    """Delete the account and everything in it. Needs the password."""
    accounts.delete_account(current_user._get_current_object(), data["password"])
    logout_user()


@bp.route("/me/password", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(PasswordSchema)
@bp.response(204)
@bp.alt_response(422, schema=ApiErrorSchema)
def change_password(data):
    """Change the password; every browser session of the account is logged out."""
    accounts.change_password(current_user, data["current_password"], data["new_password"])


@bp.route("/me/avatar", methods=["PUT"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(AvatarSchema, location="files")
@bp.response(200, MeSchema)
@bp.alt_response(422, schema=ApiErrorSchema, description="Not an image, or too large.")
def put_avatar(files):
    """Upload a picture (multipart field ``avatar``); it is cropped square and re-encoded."""
    accounts.set_avatar(current_user, files["avatar"].read())
    return me_payload(current_user)


@bp.route("/me/avatar", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
def delete_avatar():
    """Remove the picture."""
    accounts.remove_avatar(current_user)

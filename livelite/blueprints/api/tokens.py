"""Personal access tokens."""

import marshmallow as ma
from flask import g
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, require
from livelite.services import tokens
from livelite.services.errors import PermissionDenied

bp = Blueprint("api_tokens", __name__, url_prefix="/api/v1/tokens", description="Personal access tokens")


class TokenSchema(ma.Schema):
    id = ma.fields.Int()
    name = ma.fields.Str()
    prefix = ma.fields.Str(metadata={"description": "First characters of the secret."})
    scopes = ma.fields.List(ma.fields.Str(), attribute="scope_list")
    created_at = ma.fields.AwareDateTime()
    last_used_at = ma.fields.AwareDateTime(allow_none=True)
    expires_at = ma.fields.AwareDateTime(allow_none=True)


class TokenCreatedSchema(TokenSchema):
    secret = ma.fields.Str(metadata={"description": "Shown once; store it now."})


class TokenCreateSchema(ma.Schema):
    name = ma.fields.Str(required=True)
    scopes = ma.fields.List(ma.fields.Str(), required=True, metadata={"example": ["read", "write"]})
    expires_in_days = ma.fields.Int(allow_none=True, load_default=None)


@bp.route("", methods=["GET"])
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, TokenSchema(many=True))
def list_tokens():
    """The caller's tokens (never their secrets)."""
    return tokens.list_tokens(current_user)


@bp.route("", methods=["POST"])
@require("write")
@bp.doc(security=[{"sessionCookie": []}])
@bp.arguments(TokenCreateSchema)
@bp.response(201, TokenCreatedSchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="Called with a token instead of a session.")
def create_token(data):
    """Create a token. Only from a logged-in session, so a token cannot mint wider ones."""
    if g.get("api_token") is not None:
        raise PermissionDenied(_("Create tokens from a logged-in session, not with another token."))
    token, secret = tokens.create_token(current_user, data["name"], data["scopes"], data["expires_in_days"])
    token.secret = secret
    return token


@bp.route("/<int:token_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(404, schema=ApiErrorSchema)
def revoke(token_id):
    """Revoke a token at once."""
    tokens.revoke_token(current_user, token_id)

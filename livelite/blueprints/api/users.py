"""People: profiles, follower lists, follow and unfollow."""

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import (
    AUTH_DOC,
    ApiErrorSchema,
    PageArgs,
    UserPageSchema,
    UserSchema,
    page_payload,
    require,
    user_payload,
)
from livelite.extensions import db
from livelite.services import accounts

bp = Blueprint("api_users", __name__, url_prefix="/api/v1/users", description="People")


class FollowStateSchema(ma.Schema):
    following = ma.fields.Bool(required=True)
    follower_count = ma.fields.Int(required=True)


@bp.route("/<username>")
@bp.response(200, UserSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def get_user(username):
    """A public profile."""
    return user_payload(accounts.get_by_username(username), current_user)


@bp.route("/<username>/followers")
@bp.arguments(PageArgs, location="query")
@bp.response(200, UserPageSchema)
def followers(args, username):
    """Who follows this person, newest first."""
    user = accounts.get_by_username(username)
    page = db.paginate(
        accounts.followers_query(user), page=args["page"], per_page=args["per_page"], error_out=False
    )
    return page_payload(page, user_payload)


@bp.route("/<username>/following")
@bp.arguments(PageArgs, location="query")
@bp.response(200, UserPageSchema)
def following(args, username):
    """Whom this person follows, newest first."""
    user = accounts.get_by_username(username)
    page = db.paginate(
        accounts.following_query(user), page=args["page"], per_page=args["per_page"], error_out=False
    )
    return page_payload(page, user_payload)


@bp.route("/<username>/follow", methods=["PUT"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, FollowStateSchema)
@bp.alt_response(400, schema=ApiErrorSchema, description="You cannot follow yourself.")
def follow(username):
    """Follow (idempotent)."""
    target = accounts.get_by_username(username)
    accounts.follow(current_user, target)
    return {"following": True, "follower_count": target.follower_count}


@bp.route("/<username>/follow", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, FollowStateSchema)
def unfollow(username):
    """Unfollow (idempotent)."""
    target = accounts.get_by_username(username)
    accounts.unfollow(current_user, target)
    return {"following": False, "follower_count": target.follower_count}

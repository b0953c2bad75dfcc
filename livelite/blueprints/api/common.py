"""Pieces shared by the API modules: authentication decorator, payloads, schemas."""

from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask import g, url_for
from flask_babel import gettext as _
from flask_login import current_user

from livelite.services.errors import DomainError, PermissionDenied
from livelite.templating import avatar_url

AUTH_DOC = {"security": [{"bearerAuth": []}, {"sessionCookie": []}]}


class Unauthenticated(DomainError):
    status = 401


def require(scope: str = "read"):
    """The caller must be logged in, and a token must carry ``scope``."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                raise Unauthenticated(_("Log in or send a personal access token."))
            token = g.get("api_token")
            if token is not None and scope not in token.scope_list:
                raise PermissionDenied(_("This token lacks the “%(scope)s” scope.", scope=scope))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def user_payload(user, viewer=None) -> dict:
    data = {
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "role": user.role.value,
        "avatar_url": avatar_url(user),
        "profile_url": url_for("profiles.show", username=user.username, _external=True),
        "follower_count": user.follower_count,
        "following_count": user.following_count,
        "created_at": user.created_at,
    }
    if viewer is not None and getattr(viewer, "is_authenticated", False) and viewer.id != user.id:
        data["is_following"] = viewer.is_following(user)
    return data


class ApiErrorSchema(ma.Schema):
    class Inner(ma.Schema):
        status = ma.fields.Int(required=True)
        message = ma.fields.Str(required=True)
        code = ma.fields.Str(
            metadata={
                "description": "A machine-readable reason, on some errors (live_ended, not_allowed...)."
            }
        )
        errors = ma.fields.Dict(keys=ma.fields.Str(), values=ma.fields.Raw())

    error = ma.fields.Nested(Inner, required=True)


class UserSchema(ma.Schema):
    username = ma.fields.Str(required=True)
    display_name = ma.fields.Str(required=True)
    bio = ma.fields.Str()
    role = ma.fields.Str(metadata={"enum": ["admin", "moderator", "creator", "member"]})
    avatar_url = ma.fields.Str(allow_none=True)
    profile_url = ma.fields.Str()
    follower_count = ma.fields.Int()
    following_count = ma.fields.Int()
    created_at = ma.fields.AwareDateTime()
    is_following = ma.fields.Bool(metadata={"description": "Only when the caller is logged in."})


class PageArgs(ma.Schema):
    page = ma.fields.Int(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Int(load_default=30, validate=ma.validate.Range(min=1, max=100))


def page_payload(page, item) -> dict:
    return {
        "items": [item(x) for x in page.items],
        "page": page.page,
        "pages": page.pages,
        "total": page.total,
    }


class UserPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(UserSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()

"""Personal access tokens for the API: shown once, stored as a SHA-256 hash.

The secret has 256 bits of entropy, so a fast hash is enough (no salt or slow KDF is
needed), and lookups stay a single indexed query per request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from livelite.extensions import db
from livelite.models import ApiToken, User
from livelite.models.base import utcnow
from livelite.services.errors import NotFound, ValidationFailed

PREFIX = "ll_"
SCOPES = {
    "read": _l("Read your profile and what you can see"),
    "write": _l("Act as you: follow, edit your profile, and more"),
}
MAX_TOKENS_PER_USER = 50


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    user: User, name: str, scopes: list[str], expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a token; returns it with its secret, which is never retrievable again."""
    errors = {}
    name = (name or "").strip()
    if not name or len(name) > 60:
        errors["name"] = [_("Name the token (60 characters at most).")]
    scopes = sorted(set(scopes or []))
    if not scopes or any(s not in SCOPES for s in scopes):
        errors["scopes"] = [_("Choose at least one scope among: %(s)s.", s=", ".join(SCOPES))]
    if expires_in_days is not None and not (1 <= expires_in_days <= 3650):
        errors["expires_in_days"] = [_("Expiry is 1 to 3650 days.")]
    if len(user.tokens) >= MAX_TOKENS_PER_USER:
        errors["name"] = [_("You have too many tokens; revoke some first.")]
    if errors:
        raise ValidationFailed(errors)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_hash(secret),
        prefix=secret[:10],
        scopes=" ".join(scopes),
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.session.add(token)
    db.session.commit()
    return token, secret


def user_for_secret(secret: str) -> tuple[User, ApiToken] | None:
    """The active user and token for a presented secret, or None."""
    if not secret or not secret.startswith(PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if token is None or token.user.is_banned:
        return None
    now = utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    # Write last_used_at at most once a minute so reads don't turn into writes.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        try:
            db.session.commit()
        except OperationalError:
            # Bookkeeping only: a database busy with another writer must not refuse
            # the request (it is written on a later one).
            db.session.rollback()
    return token.user, token


def revoke_token(user: User, token_id: int) -> None:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("No such token."))
    db.session.delete(token)
    db.session.commit()


def list_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )

"""Registration invite codes: while registration is closed (REGISTRATION_OPEN false),
a code an admin hands out still lets people sign up (invite-only registration).

A use is taken with one conditional UPDATE (``uses < max_uses``, not revoked, not
expired) in the transaction that creates the account, so two people racing for the
last use of a code cannot both get it, and a refused sign-up takes no use.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import or_, select, update

from livelite.extensions import db
from livelite.models import User
from livelite.models.base import utcnow
from livelite.models.settings import RegistrationInvite
from livelite.services.admin import require_admin
from livelite.services.errors import NotFound, ValidationFailed

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud, typed
CODE_LENGTH = 10
NOTE_MAX = 200
MAX_USES_LIMIT = 100_000
EXPIRY_DAYS_LIMIT = 3650


def normalise_code(code: str | None) -> str:
    """Codes are shown in groups (ABCDE-FGHJK); spaces, dashes and case do not matter."""
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def format_code(code: str) -> str:
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}" if len(code) >= 8 else code


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def list_invites(actor: User) -> list[RegistrationInvite]:
    """Every code, newest first (revoked and used-up ones too: the admin sees the uses)."""
    require_admin(actor)
    stmt = select(RegistrationInvite).order_by(
        RegistrationInvite.created_at.desc(), RegistrationInvite.id.desc()
    )
    return list(db.session.scalars(stmt))


def create_invite(
    actor: User,
    *,
    note: str = "",
    max_uses: int | None = 1,
    expires_in_days: int | None = None,
    now: datetime | None = None,
) -> RegistrationInvite:
    """A new code. ``max_uses`` None: any number of uses; ``expires_in_days`` None: never."""
    require_admin(actor)
    errors: dict[str, list[str]] = {}
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        errors["note"] = [_("At most %(n)s characters.", n=NOTE_MAX)]
    if max_uses is not None and not 1 <= max_uses <= MAX_USES_LIMIT:
        errors["max_uses"] = [_("Enter a number from %(lo)s to %(hi)s.", lo=1, hi=MAX_USES_LIMIT)]
    if expires_in_days is not None and not 1 <= expires_in_days <= EXPIRY_DAYS_LIMIT:
        errors["expires_in_days"] = [_("Enter a number from %(lo)s to %(hi)s.", lo=1, hi=EXPIRY_DAYS_LIMIT)]
    if errors:
        raise ValidationFailed(errors)
    now = now or utcnow()
    code = _new_code()
    while db.session.scalar(select(RegistrationInvite.id).where(RegistrationInvite.code == code)):
        code = _new_code()  # pragma: no cover - 31^10 codes
    invite = RegistrationInvite(
        code=code,
        note=note,
        max_uses=max_uses,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        created_by_id=actor.id,
        created_at=now,
    )
    db.session.add(invite)
    db.session.commit()
    return invite


def get_invite(invite_id: int) -> RegistrationInvite:
    invite = db.session.get(RegistrationInvite, invite_id)
    if invite is None:
        raise NotFound(_("No such invite code."))
    return invite


def revoke_invite(actor: User, invite: RegistrationInvite, now: datetime | None = None) -> RegistrationInvite:
    """Stop the code from working; the accounts made with it stay. Safe to repeat."""
    require_admin(actor)
    if invite.revoked_at is None:
        invite.revoked_at = now or utcnow()
        db.session.commit()
    return invite


def state_of(invite: RegistrationInvite, now: datetime | None = None) -> str:
    """active, revoked, expired or used_up."""
    now = now or utcnow()
    if invite.revoked_at is not None:
        return "revoked"
    if invite.expires_at is not None and invite.expires_at <= now:
        return "expired"
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        return "used_up"
    return "active"


def refusal(code: str, now: datetime | None = None) -> str | None:
    """Why this code cannot be used now (a message for the form's field), or None."""
    invite = db.session.scalar(
        select(RegistrationInvite).where(RegistrationInvite.code == normalise_code(code))
    )
    if invite is None:
        return _("This invite code is not valid.")
    return {
        "revoked": _("This invite code was withdrawn."),
        "expired": _("This invite code has expired."),
        "used_up": _("This invite code has been used up."),
    }.get(state_of(invite, now))


def take_use(code: str, now: datetime | None = None) -> bool:
    """Take one use of the code in the caller's transaction (no commit): one UPDATE
    that succeeds only while the code is usable. False: nothing was taken."""
    now = now or utcnow()
    result = db.session.execute(
        update(RegistrationInvite)
        .where(
            RegistrationInvite.code == normalise_code(code),
            RegistrationInvite.revoked_at.is_(None),
            or_(RegistrationInvite.expires_at.is_(None), RegistrationInvite.expires_at > now),
            or_(RegistrationInvite.max_uses.is_(None), RegistrationInvite.uses < RegistrationInvite.max_uses),
        )
        .values(uses=RegistrationInvite.uses + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1

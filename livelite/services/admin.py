"""Admin actions on people. Each checks that the actor is an admin, whoever calls it."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from livelite.extensions import db
from livelite.models import Role, User
from livelite.services import accounts
from livelite.services.errors import Conflict, PermissionDenied


def require_admin(actor: User) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_admin:
        raise PermissionDenied(_("Only admins can do this."))


def search_users(actor: User, query: str = ""):
    require_admin(actor)
    stmt = select(User).order_by(User.created_at.desc())
    query = (query or "").strip().lower().lstrip("@")
    if query:
        stmt = stmt.where(
            or_(
                User.username.contains(query, autoescape=True),
                func.lower(User.display_name).contains(query, autoescape=True),
                User.email.contains(query, autoescape=True),
            )
        )
    return stmt


def _count_admins() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.role == Role.ADMIN))


def change_role(actor: User, user: User, role: Role) -> None:
    require_admin(actor)
    if user.role == Role.ADMIN and role != Role.ADMIN and _count_admins() <= 1:
        raise Conflict(_("The site needs at least one admin."))
    accounts.set_role(user, role)


def ban(actor: User, user: User, banned: bool) -> None:
    require_admin(actor)
    if banned and user.id == actor.id:
        raise Conflict(_("You cannot ban yourself."))
    accounts.set_banned(user, banned)

"""Live-access requests: a person below the followers bar asks, an admin decides.

The source's work-around ("report a problem" to be allowed to go live) made into a
form: the person writes why, every admin is told, one admin approves or refuses with
a note, and the person is told. An approval grants live access (policy.may_go_live
counts it like the creator role, and a plain member also becomes a creator so the
admin's people list shows it). Only what an admin can change is open to a request:
not a ban, and not the age limit.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from livelite.extensions import db
from livelite.models import AccessRequest, AccessRequestStatus, Role, User
from livelite.models.base import utcnow
from livelite.services import notifications, policy
from livelite.services.admin import require_admin
from livelite.services.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from livelite.services.settings import get_setting

REASON_MIN = 10
REASON_MAX = 1000
NOTE_MAX = 1000


# -- asking -------------------------------------------------------------------------
def refusal(user: User, today: date | None = None) -> DomainError | None:
    """Why this person may not send a request now, or None if they may.

    Pages call it to choose between the form and an explanation; ``request_access``
    raises what it returns.
    """
    decision = policy.may_go_live(user, today)
    if "banned" in decision.blockers:
        return PermissionDenied(_("Your account is banned: you cannot ask for live access."))
    if decision.allowed:
        return Conflict(_("You may already go live: there is nothing to ask."))
    if pending_of(user) is not None:
        return Conflict(
            _("Your request is already waiting for an admin. You can send one request at a time.")
        )
    if decision.blockers == ["age"]:
        return PermissionDenied(
            _(
                "Only your age keeps you from going live, and an admin cannot lift the age limit: you can go live from age %(age)s.",
                age=get_setting("LIVE_MIN_AGE"),
            )
        )
    return None


def request_access(user: User, reason: str, today: date | None = None) -> AccessRequest:
    """Store a pending request with the person's reason and tell every admin."""
    problem = refusal(user, today)
    if problem is not None:
        raise problem
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise ValidationFailed(
            {"reason": [_("Your reason is too short: write %(n)s characters at least.", n=REASON_MIN)]}
        )
    if len(reason) > REASON_MAX:
        raise ValidationFailed(
            {"reason": [_("Your reason is too long: %(n)s characters at most.", n=REASON_MAX)]}
        )
    row = AccessRequest(user_id=user.id, reason=reason, status=AccessRequestStatus.PENDING)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        # Another submit of the same person won the race (one pending per person).
        db.session.rollback()
        raise Conflict(
            _("Your request is already waiting for an admin. You can send one request at a time.")
        ) from None
    notifications.notify(
        admin_ids(), "access_requested", f"access-req:{row.id}", actor=user, data={"reason": reason[:140]}
    )
    return row


# -- deciding -------------------------------------------------------------------------
def decide(
    admin: User, request: AccessRequest, approve: bool, note: str = "", now: datetime | None = None
) -> AccessRequest:
    """Approve or refuse a pending request; the note goes to the person with the news.

    Admins only. A note is optional on approval and required on refusal: the person
    deserves to know why. Deciding a request twice (two admins at once, a double
    click) is a Conflict, never a second notification.
    """
    require_admin(admin)
    if request.status != AccessRequestStatus.PENDING:
        raise Conflict(_("This request was already decided."))
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [_("The note is too long: %(n)s characters at most.", n=NOTE_MAX)]})
    if not approve and not note:
        raise ValidationFailed({"note": [_("Say why you refuse: the person reads your note.")]})
    status = AccessRequestStatus.APPROVED if approve else AccessRequestStatus.REFUSED
    # Only the first decision lands, whoever else is deciding at the same moment.
    changed = db.session.execute(
        update(AccessRequest)
        .where(AccessRequest.id == request.id, AccessRequest.status == AccessRequestStatus.PENDING)
        .values(status=status, note=note, decided_by_id=admin.id, decided_at=now or utcnow())
    ).rowcount
    if not changed:
        db.session.rollback()
        raise Conflict(_("This request was already decided."))
    person = request.user
    if approve and person.role == Role.MEMBER:
        person.role = Role.CREATOR
    db.session.commit()
    db.session.refresh(request)
    notifications.notify(
        [request.user_id],
        "access_approved" if approve else "access_refused",
        f"access:{request.id}",
        actor=admin,
        data={"note": note},
    )
    return request


# -- reading ---------------------------------------------------------------------------
def admin_ids() -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.role == Role.ADMIN, User.is_banned.is_(False))))


def get_request(request_id: int) -> AccessRequest:
    row = db.session.get(AccessRequest, request_id)
    if row is None:
        raise NotFound(_("No such live-access request."))
    return row


def pending_of(user: User) -> AccessRequest | None:
    return db.session.scalar(
        select(AccessRequest).where(
            AccessRequest.user_id == user.id, AccessRequest.status == AccessRequestStatus.PENDING
        )
    )


def latest_of(user: User) -> AccessRequest | None:
    """The person's own most recent request, whatever its status."""
    return db.session.scalar(
        select(AccessRequest)
        .where(AccessRequest.user_id == user.id)
        .order_by(AccessRequest.created_at.desc(), AccessRequest.id.desc())
        .limit(1)
    )


def requests_of(user: User, limit: int = 20) -> list[AccessRequest]:
    """The person's own requests, newest first."""
    return list(
        db.session.scalars(
            select(AccessRequest)
            .where(AccessRequest.user_id == user.id)
            .order_by(AccessRequest.created_at.desc(), AccessRequest.id.desc())
            .limit(limit)
        )
    )


def pending(admin: User) -> list[AccessRequest]:
    """The queue, oldest first: whoever has waited longest is answered first."""
    return list(db.session.scalars(queue_query(admin, AccessRequestStatus.PENDING)))


def pending_count() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AccessRequest)
        .where(AccessRequest.status == AccessRequestStatus.PENDING)
    )


def history_query(admin: User):
    """Decided requests, the latest decision first (a statement, for db.paginate)."""
    require_admin(admin)
    return (
        select(AccessRequest)
        .where(AccessRequest.status != AccessRequestStatus.PENDING)
        .order_by(AccessRequest.decided_at.desc(), AccessRequest.id.desc())
    )


def queue_query(admin: User, status: AccessRequestStatus | None = None):
    """Requests with ``status`` (None: all) for an admin: pending ones oldest first,
    decided ones latest decision first."""
    require_admin(admin)
    if status is None:
        # The pending ones first (oldest first), then the decided ones (latest first).
        is_pending = AccessRequest.status == AccessRequestStatus.PENDING
        return select(AccessRequest).order_by(
            is_pending.desc(),
            case((is_pending, AccessRequest.created_at)).asc(),
            AccessRequest.decided_at.desc(),
            AccessRequest.id.desc(),
        )
    stmt = select(AccessRequest).where(AccessRequest.status == status)
    if status == AccessRequestStatus.PENDING:
        return stmt.order_by(AccessRequest.created_at, AccessRequest.id)
    return stmt.order_by(AccessRequest.decided_at.desc(), AccessRequest.id.desc())

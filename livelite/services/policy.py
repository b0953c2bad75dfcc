"""Who may do what. Every rule that depends on age, role or followers lives here.

Each function answers with a ``Decision`` carrying the reasons for a refusal, so the
UI can tell a person *why* (and what would change it), not only *no*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import AccessRequest, AccessRequestStatus, Role, User
from livelite.services.settings import get_setting


@dataclass
class Decision:
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    # What stands in the way, as codes ("banned", "age", "followers"): pages and the
    # live-access service tell from them whether an admin's grant would help.
    blockers: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.allowed


def age_on(birth_date: date, today: date) -> int:
    """Completed years between ``birth_date`` and ``today`` (birthdays on 29 Feb count on 1 Mar)."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def _today(today: date | None) -> date:
    return today or date.today()


def may_go_live(user: User, today: date | None = None) -> Decision:
    """Age at least LIVE_MIN_AGE, and LIVE_MIN_FOLLOWERS followers, the creator or admin
    role, or a live-access request that an admin approved (services.access)."""
    if user.is_banned:
        return Decision(False, [_("Your account is banned.")], ["banned"])
    reasons, blockers = [], []
    min_age = get_setting("LIVE_MIN_AGE")
    if age_on(user.birth_date, _today(today)) < min_age:
        reasons.append(_("You must be at least %(age)s to go live.", age=min_age))
        blockers.append("age")
    if user.role not in (Role.ADMIN, Role.CREATOR):
        needed = get_setting("LIVE_MIN_FOLLOWERS")
        have = user.follower_count
        # A member's grant is the creator role the approval gave them, so an admin who
        # sets them back to member takes it away; a moderator keeps their role and
        # holds the grant through the approved request itself.
        granted = user.role != Role.MEMBER and has_live_access_grant(user)
        if have < needed and not granted:
            reasons.append(
                _(
                    "Going live needs %(needed)s followers (you have %(have)s) or live access granted by an admin.",
                    needed=needed,
                    have=have,
                )
            )
            blockers.append("followers")
    return Decision(not reasons, reasons, blockers)


def has_live_access_grant(user: User) -> bool:
    """Whether the person's latest decided live-access request was approved.

    It counts like the creator role for people who are not plain members (see
    may_go_live); a later refusal replaces an earlier approval.
    """
    latest = db.session.scalar(
        select(AccessRequest.status)
        .where(AccessRequest.user_id == user.id, AccessRequest.status != AccessRequestStatus.PENDING)
        .order_by(AccessRequest.decided_at.desc(), AccessRequest.id.desc())
        .limit(1)
    )
    return latest == AccessRequestStatus.APPROVED


def may_send_gifts(user: User, today: date | None = None) -> Decision:
    return _gift_age(user, today, _("You must be at least %(age)s to send gifts."))


def may_receive_gifts(user: User, today: date | None = None) -> Decision:
    return _gift_age(user, today, _("You must be at least %(age)s to receive gifts."))


def _gift_age(user: User, today: date | None, message: str) -> Decision:
    if user.is_banned:
        return Decision(False, [_("Your account is banned.")])
    min_age = get_setting("GIFT_MIN_AGE")
    if age_on(user.birth_date, _today(today)) < min_age:
        return Decision(False, [message % {"age": min_age}])
    return Decision(True)

"""Class mode: member groups (class lists), invite codes, attendance reports.

A host keeps groups of people (a class, a club). Going live invite-only, they may pick
one of their groups: its members watch without the link or the code (``is_member``,
used by services.lives.can_watch). Everyone else needs the invite token, which the
link carries and the short code (typed at /join) leads to.

Attendance is recorded by services.analytics (rows per presence); here it is summed per
person for the host: first join, last leave, time present, number of joins, and the
group's members who never came.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from livelite.extensions import db
from livelite.models import Attendance, Live, User, Visibility
from livelite.models.base import utcnow
from livelite.models.classes import GroupMember, MemberGroup
from livelite.models.lives import INVITE_CODE_ALPHABET
from livelite.services import spreadsheets
from livelite.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

NAME_MAX = 80
MAX_GROUPS = 50
MAX_MEMBERS = 1000
# Usernames typed or pasted at once, separated by commas, spaces or new lines.
MAX_NAMES_AT_ONCE = 1000
_SEPARATORS = re.compile(r"[\s,;]+")


# -- groups ----------------------------------------------------------------------------
def groups_of(user: User) -> list[MemberGroup]:
    """The user's groups, by name."""
    return list(
        db.session.scalars(
            select(MemberGroup).where(MemberGroup.owner_id == user.id).order_by(func.lower(MemberGroup.name))
        )
    )


def member_counts(groups: list[MemberGroup]) -> dict[int, int]:
    if not groups:
        return {}
    rows = db.session.execute(
        select(GroupMember.group_id, func.count())
        .where(GroupMember.group_id.in_([g.id for g in groups]))
        .group_by(GroupMember.group_id)
    )
    counts = dict(rows.all())
    return {g.id: counts.get(g.id, 0) for g in groups}


def get_group(group_id: int, actor: User) -> MemberGroup:
    """One of ``actor``'s groups. Someone else's group is "not found": its name and
    members are nobody else's business, not even whether it exists."""
    group = db.session.get(MemberGroup, group_id)
    if group is None or actor is None or group.owner_id != actor.id:
        raise NotFound(_("This group does not exist."))
    return group


def _checked_name(owner: User, name: str, *, current: MemberGroup | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed({"name": [_("Give the group a name.")]})
    if len(name) > NAME_MAX:
        raise ValidationFailed({"name": [_("Group names have at most %(n)s characters.", n=NAME_MAX)]})
    clash = db.session.scalar(
        select(MemberGroup.id).where(
            MemberGroup.owner_id == owner.id,
            func.lower(MemberGroup.name) == name.lower(),
            MemberGroup.id != (current.id if current else -1),
        )
    )
    if clash is not None:
        raise ValidationFailed({"name": [_("You already have a group called “%(name)s”.", name=name)]})
    return name


def create_group(owner: User, name: str) -> MemberGroup:
    name = _checked_name(owner, name)
    count = db.session.scalar(
        select(func.count()).select_from(MemberGroup).where(MemberGroup.owner_id == owner.id)
    )
    if count >= MAX_GROUPS:
        raise Conflict(_("You have %(n)s groups, the most allowed. Delete one first.", n=MAX_GROUPS))
    group = MemberGroup(owner_id=owner.id, name=name)
    db.session.add(group)
    try:
        db.session.commit()
    except IntegrityError:  # the same name created at the same moment
        db.session.rollback()
        raise ValidationFailed(
            {"name": [_("You already have a group called “%(name)s”.", name=name)]}
        ) from None
    return group


def rename_group(group: MemberGroup, actor: User, name: str) -> MemberGroup:
    get_group(group.id, actor)
    group.name = _checked_name(actor, name, current=group)
    db.session.commit()
    return group


def delete_group(group: MemberGroup, actor: User) -> None:
    """Lives that used the group keep going: their members then need the link or code."""
    get_group(group.id, actor)
    db.session.delete(group)
    db.session.commit()


def members_of(group: MemberGroup) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group.id)
            .order_by(func.lower(User.display_name), func.lower(User.username))
        )
    )


def parse_usernames(text: str) -> list[str]:
    """Names as typed: separated by commas, spaces or new lines, an @ allowed in front;
    each once, in the order given."""
    seen: dict[str, str] = {}
    for raw in _SEPARATORS.split(text or ""):
        name = raw.strip().lstrip("@")
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())


@dataclass
class AddResult:
    added: list[User]
    already: list[User]
    unknown: list[str]


def add_members(group: MemberGroup, actor: User, names: str | list[str]) -> AddResult:
    """Add people by username. Unknown names are reported by name and the others are
    added; nothing is added when the group would grow past ``MAX_MEMBERS``."""
    get_group(group.id, actor)
    wanted = parse_usernames(names if isinstance(names, str) else " ".join(names))
    if not wanted:
        raise ValidationFailed({"usernames": [_("Type at least one username.")]})
    if len(wanted) > MAX_NAMES_AT_ONCE:
        raise ValidationFailed({"usernames": [_("Add at most %(n)s people at once.", n=MAX_NAMES_AT_ONCE)]})
    users = db.session.scalars(select(User).where(func.lower(User.username).in_([n.lower() for n in wanted])))
    by_name = {u.username.lower(): u for u in users}
    current = set(db.session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group.id)))
    result = AddResult(added=[], already=[], unknown=[])
    for name in wanted:
        user = by_name.get(name.lower())
        if user is None:
            result.unknown.append(name)
        elif user.id in current:
            result.already.append(user)
        else:
            current.add(user.id)
            result.added.append(user)
    if len(current) > MAX_MEMBERS:
        raise ValidationFailed({"usernames": [_("A group has at most %(n)s members.", n=MAX_MEMBERS)]})
    for user in result.added:
        db.session.add(GroupMember(group_id=group.id, user_id=user.id))
    db.session.commit()
    return result


def remove_member(group: MemberGroup, actor: User, user_id: int) -> None:
    get_group(group.id, actor)
    row = db.session.get(GroupMember, {"group_id": group.id, "user_id": user_id})
    if row is None:
        raise NotFound(_("This person is not in the group."))
    db.session.delete(row)
    db.session.commit()


def is_member(group_id: int | None, user: User | None) -> bool:
    """Whether ``user`` (signed in) is in the group (used by lives.can_watch)."""
    if group_id is None or user is None or not getattr(user, "is_authenticated", False):
        return False
    return db.session.get(GroupMember, {"group_id": group_id, "user_id": user.id}) is not None


def member_ids(group_id: int) -> list[int]:
    return list(db.session.scalars(select(GroupMember.user_id).where(GroupMember.group_id == group_id)))


def group_for_live(host: User, visibility: Visibility, group_id: int | None) -> int | None:
    """The group a host picked when going live, checked: only for invite-only lives,
    and only one of the host's own groups."""
    if group_id in (None, "", 0):
        return None
    if visibility != Visibility.INVITE:
        raise ValidationFailed({"group_id": [_("Only invite-only lives can be opened to a group.")]})
    group = db.session.get(MemberGroup, int(group_id))
    if group is None or group.owner_id != host.id:
        raise ValidationFailed({"group_id": [_("Choose one of your own groups.")]})
    return group.id


# -- invite codes ----------------------------------------------------------------------
def normalise_code(text: str) -> str:
    """What people type, as stored: upper case, without dashes or spaces."""
    return re.sub(r"[\s\-]+", "", text or "").upper()


def format_code(code: str | None) -> str:
    """XXXX-XXXX, easier to read aloud."""
    if not code:
        return ""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def live_for_code(text: str) -> Live:
    """The invite-only live this code opens. A wrong code, or one that is not an
    invite-only live's, is the same "no live" so codes cannot be probed for lives."""
    code = normalise_code(text)
    if not code:
        raise ValidationFailed({"code": [_("Type the code you were given.")]})
    if len(code) != 8 or any(ch not in INVITE_CODE_ALPHABET for ch in code):
        raise NotFound(_("No live has this code. Check it and try again."))
    live = db.session.scalar(select(Live).where(Live.invite_code == code))
    if live is None or live.visibility != Visibility.INVITE:
        raise NotFound(_("No live has this code. Check it and try again."))
    return live


# -- attendance ------------------------------------------------------------------------
VISITORS = "visitors"


@dataclass
class AttendanceLine:
    """One person's attendance (or every visitor's together: ``kind == VISITORS``)."""

    kind: str  # "user", "visitors" or "absent"
    user: User | None
    first_join: datetime | None
    last_leave: datetime | None
    seconds: int
    joins: int
    still_here: bool = False
    visitors: int = 0

    @property
    def absent(self) -> bool:
        return self.kind == "absent"

    @property
    def duration(self) -> str:
        return hms(self.seconds)


def hms(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def require_attendance_access(live: Live, actor: User | None) -> None:
    if not (actor is not None and actor.is_authenticated and (actor.id == live.host_id or actor.is_admin)):
        raise PermissionDenied(_("Only the host can see who attended."))


def attendance(live: Live, actor: User | None, *, now: datetime | None = None) -> list[AttendanceLine]:
    """Per signed-in person, sorted by name, then the group's members who never came
    (absent), then one line for all visitors. Rows still open count up to ``now``."""
    require_attendance_access(live, actor)
    now = now or utcnow()
    rows = db.session.scalars(select(Attendance).where(Attendance.live_id == live.id).order_by(Attendance.id))
    people: dict[int, AttendanceLine] = {}
    visitors = AttendanceLine(VISITORS, None, None, None, 0, 0)
    visitor_ids: set[str] = set()
    for row in rows:
        if row.user_id is None:
            line = visitors
            visitor_ids.add(row.identity)
        else:
            line = people.setdefault(row.user_id, AttendanceLine("user", None, None, None, 0, 0))
        end = row.left_at or now
        line.seconds += max(0, int((end - row.joined_at).total_seconds()))
        line.joins += 1
        line.first_join = row.joined_at if line.first_join is None else min(line.first_join, row.joined_at)
        if row.left_at is None:
            line.still_here = True
        elif line.last_leave is None or row.left_at > line.last_leave:
            line.last_leave = row.left_at
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(list(people))))}
    for user_id, line in people.items():
        line.user = users.get(user_id)
    lines = [line for line in people.values() if line.user is not None]
    if live.group_id is not None:
        for user_id in member_ids(live.group_id):
            if user_id not in people and user_id != live.host_id:
                user = db.session.get(User, user_id)
                lines.append(AttendanceLine("absent", user, None, None, 0, 0))
    lines.sort(key=lambda line: (line.user.display_name.casefold(), line.user.username.casefold()))
    if visitors.joins:
        visitors.visitors = len(visitor_ids)
        lines.append(visitors)
    return lines


def _iso(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def attendance_csv(live: Live, actor: User | None, *, now: datetime | None = None) -> str:
    """The attendance as CSV; names are neutralised (spreadsheets.cell) so a display
    name written as a formula stays text."""
    lines = attendance(live, actor, now=now)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Username"),
            _("Display name"),
            _("First join (UTC)"),
            _("Last leave (UTC)"),
            _("Total seconds"),
            _("Total time"),
            _("Joins"),
        ]
    )
    for line in lines:
        if line.kind == VISITORS:
            username = ""
            name = _("Visitors (not signed in): %(n)s", n=line.visitors)
        else:
            username, name = line.user.username, line.user.display_name
        writer.writerow(
            [
                spreadsheets.cell(username),
                spreadsheets.cell(name),
                _iso(line.first_join),
                "" if line.still_here else _iso(line.last_leave),
                line.seconds,
                line.duration,
                line.joins,
            ]
        )
    return out.getvalue()


def attendance_filename(live: Live) -> str:
    """attendance-<title as ASCII words>-<date>.csv (safe in a header)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", live.title).strip("-").lower()[:40] or f"live-{live.id}"
    day = (live.started_at or live.created_at).strftime("%Y-%m-%d")
    return f"attendance-{slug}-{day}.csv"

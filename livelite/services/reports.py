"""Reports: anyone logged in tells the site admins about a chat message or a person.

A message report keeps a copy of the message as it was (a moderator may delete it
later, its author may be muted) and is about the message's author. Every admin is
told, once per person reported while reports about them are open: ten people
reporting the same troll make one notification, not ten. People may report ten times
an hour, counted in the database so that restarts and several processes agree.
An admin then resolves (something was done) or dismisses a report, with a note.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from livelite.extensions import db
from livelite.models import ChatMessage, Live, Report, ReportStatus, User
from livelite.models.base import utcnow
from livelite.services import lives, notifications, room
from livelite.services.access import admin_ids
from livelite.services.admin import require_admin
from livelite.services.errors import Conflict, NotFound, ValidationFailed

REASON_MAX = 500
NOTE_MAX = 500
PER_HOUR = 10
WINDOW = timedelta(hours=1)


def _invalid(code: str, message: str, field: str | None = None) -> room.RoomError:
    """A room error that also names the form field it is about (for the API's errors)."""
    exc = room.RoomError(code, message, status=422)
    exc.field = field
    return exc


def _check_rate(reporter: User, now: datetime) -> None:
    since = now - WINDOW
    recent = list(
        db.session.scalars(
            select(Report.created_at)
            .where(Report.reporter_id == reporter.id, Report.created_at > since)
            .order_by(Report.created_at)
        )
    )
    if len(recent) >= PER_HOUR:
        # Free again when the oldest report of the hour leaves the window.
        wait = (recent[len(recent) - PER_HOUR] + WINDOW - now).total_seconds()
        raise room.RoomError(
            "rate_limited",
            _(
                "You can send %(n)s reports an hour. Try again in %(m)s min.",
                n=PER_HOUR,
                m=max(1, round(wait / 60)),
            ),
            retry_after=max(1.0, wait),
            status=429,
        )


def _clean_reason(text: str) -> str:
    """The reason as written, line breaks kept, minus what cannot be shown or stored:
    other control characters (NUL…) and lone surrogates (a socket's JSON may carry them)."""
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs"))
    return "".join(kept).strip()


def create(
    reporter: User,
    *,
    live: Live | None = None,
    message_id: int | None = None,
    user_id: int | None = None,
    reason: str,
    now: datetime | None = None,
) -> Report:
    """Report a message (``message_id``) or a person (``user_id``) to the site admins.

    ``live`` is the live the reporter is in (the socket connection's); without it, a
    message's live must be one the reporter may watch. Raises RoomError codes
    ``login_required``, ``empty``/``too_long`` (reason), ``invalid``, ``not_found``,
    ``conflict`` (already reported and still open), ``rate_limited``.
    """
    room.require_member(reporter)
    now = now or utcnow()
    reason = _clean_reason(reason) if isinstance(reason, str) else ""
    if not reason:
        raise _invalid("empty", _("Say why you report it."), "reason")
    if len(reason) > REASON_MAX:
        raise _invalid(
            "too_long", _("The reason is too long: %(n)s characters at most.", n=REASON_MAX), "reason"
        )

    message = None
    if message_id is not None:
        message = db.session.get(ChatMessage, message_id)
        if message is None or (live is not None and message.live_id != live.id):
            raise room.RoomError("not_found", _("This message does not exist."), status=404)
        if live is None:
            live = db.session.get(Live, message.live_id)
            if not lives.can_watch(live, reporter):
                raise room.RoomError("not_found", _("This message does not exist."), status=404)
        if user_id is not None and user_id != message.user_id:
            raise _invalid("invalid", _("This message is by someone else."), "user_id")
        target_id = message.user_id
    elif user_id is not None:
        if db.session.get(User, user_id) is None:
            raise room.RoomError("not_found", _("No such user."), status=404)
        target_id = user_id
    else:
        raise _invalid("invalid", _("Say which message or person you report."), "message_id")
    if target_id == reporter.id:
        raise _invalid("invalid", _("You cannot report yourself."))

    same = select(Report.id).where(
        Report.reporter_id == reporter.id,
        Report.target_id == target_id,
        Report.status == ReportStatus.OPEN,
        Report.message_id == message.id if message is not None else Report.message_id.is_(None),
    )
    if db.session.scalar(same) is not None:
        raise room.RoomError(
            "conflict", _("You reported this already. The admins will look at it."), status=409
        )
    _check_rate(reporter, now)

    row = Report(
        reporter_id=reporter.id,
        target_id=target_id,
        live_id=live.id if live is not None else None,
        message_id=message.id if message is not None else None,
        message_body=message.body if message is not None else None,
        reason=reason,
        created_at=now,
    )
    db.session.add(row)
    db.session.commit()
    _tell_admins(row, reporter)
    return row


def _tell_admins(row: Report, reporter: User) -> None:
    """Once per person reported while reports about them are open: the key is the
    oldest open report about them, so a new wave after a decision is news again."""
    first = db.session.scalar(
        select(func.min(Report.id)).where(
            Report.target_id == row.target_id, Report.status == ReportStatus.OPEN
        )
    )
    notifications.notify(
        admin_ids(),
        "report",
        f"report:{first or row.id}",
        actor=reporter,
        data={"target": row.target.username, "message": row.message_id is not None, "report_id": row.id},
    )


# -- admins ---------------------------------------------------------------------------------
def get_report(report_id: int) -> Report:
    row = db.session.get(Report, report_id)
    if row is None:
        raise NotFound(_("No such report."))
    return row


def reports_query(admin: User, status: ReportStatus | None = ReportStatus.OPEN):
    """Reports for admins (a statement, for db.paginate): open ones oldest first (whoever
    waited longest), handled ones latest decision first; ``status`` None: all, open first."""
    require_admin(admin)
    if status is None:
        is_open = Report.status == ReportStatus.OPEN
        return select(Report).order_by(is_open.desc(), Report.handled_at.desc(), Report.id)
    stmt = select(Report).where(Report.status == status)
    if status == ReportStatus.OPEN:
        return stmt.order_by(Report.created_at, Report.id)
    return stmt.order_by(Report.handled_at.desc(), Report.id.desc())


def list_reports(
    admin: User, status: ReportStatus | None = ReportStatus.OPEN, limit: int = 200
) -> list[Report]:
    return list(db.session.scalars(reports_query(admin, status).limit(limit)))


def open_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Report).where(Report.status == ReportStatus.OPEN)
    )


def decide(
    report: Report, admin: User, status: ReportStatus | str, note: str = "", now: datetime | None = None
) -> Report:
    """Resolve (something was done) or dismiss (nothing to do) an open report, with an
    optional note for the other admins. Twice is a Conflict: only the first decision lands."""
    require_admin(admin)
    try:
        status = ReportStatus(status)
    except ValueError:
        status = None
    if status not in (ReportStatus.RESOLVED, ReportStatus.DISMISSED):
        raise ValidationFailed({"status": [_("Choose Resolve or Dismiss.")]})
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [_("The note is too long: %(n)s characters at most.", n=NOTE_MAX)]})
    changed = db.session.execute(
        update(Report)
        .where(Report.id == report.id, Report.status == ReportStatus.OPEN)
        .values(status=status, note=note or None, handled_by_id=admin.id, handled_at=now or utcnow())
    ).rowcount
    if not changed:
        db.session.rollback()
        raise Conflict(_("This report was already handled."))
    db.session.commit()
    db.session.refresh(report)
    return report


def handled_by(report: Report) -> User | None:
    return db.session.get(User, report.handled_by_id) if report.handled_by_id else None


def live_of(report: Report) -> Live | None:
    return db.session.get(Live, report.live_id) if report.live_id else None

"""The live room for programs: what the host and moderators do from the room, what a
host sets for all their lives, reports, and the admins' report queue.

Every operation calls the same service as the socket event of docs/realtime.md, so the
rules are the same and the room sees the result at once: a mute made here removes the
person's messages from every viewer's screen (``chat_removed``). Room refusals keep
their machine-readable ``code`` (and ``retry_after`` with a Retry-After header when
waiting would help) next to the usual error body.
"""

from __future__ import annotations

import marshmallow as ma
from flask import jsonify, make_response
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, PageArgs, page_payload, require
from livelite.extensions import db
from livelite.models import Live, ReportStatus
from livelite.services import accounts, chat, lives, moderation, moderators, questions, reports, room
from livelite.services.admin import require_admin
from livelite.services.errors import NotFound
from livelite.services.moderators import BLOCKED_WORD_MAX_LENGTH, BLOCKED_WORDS_MAX

bp = Blueprint(
    "api_room",
    __name__,
    url_prefix="/api/v1",
    description="The live room: moderation by the host and moderators, Q&A, moderators, "
    "blocked words and bans of a host, reports.",
)

DURATIONS = ["1m", "10m", "live"]
REPORT_STATUSES = [s.value for s in ReportStatus]


@bp.errorhandler(room.RoomError)
def _room_error(exc: room.RoomError):
    """The usual error body plus the room's ``code`` and ``retry_after``."""
    db.session.rollback()
    error = {"status": exc.status, "message": exc.message, "code": exc.code}
    if exc.errors:
        error["errors"] = exc.errors
    if exc.retry_after is not None:
        error["retry_after"] = exc.retry_after
    response = jsonify({"error": error})
    response.status_code = exc.status
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


# -- schemas ------------------------------------------------------------------------------
class RoomErrorDetailSchema(ApiErrorSchema.Inner):
    code = ma.fields.Str(metadata={"description": "The room's error code (docs/realtime.md)."})
    retry_after = ma.fields.Int(metadata={"description": "Seconds to wait, when waiting helps."})


class RoomErrorSchema(ma.Schema):
    error = ma.fields.Nested(RoomErrorDetailSchema, required=True)


class RoomUserSchema(ma.Schema):
    id = ma.fields.Int()
    username = ma.fields.Str()
    display_name = ma.fields.Str()
    avatar_url = ma.fields.Str(allow_none=True)


class MessageSchema(ma.Schema):
    id = ma.fields.Int()
    user = ma.fields.Nested(RoomUserSchema)
    body = ma.fields.Str()
    offset_ms = ma.fields.Int(metadata={"description": "Milliseconds from the live's start."})
    at = ma.fields.Str(metadata={"description": "ISO 8601 time it was sent."})
    role = ma.fields.Str(metadata={"description": "The author's role in the live."})


class MessagesArgs(ma.Schema):
    limit = ma.fields.Int(load_default=room.CHAT_HISTORY, validate=ma.validate.Range(min=1, max=200))


class TargetInSchema(ma.Schema):
    user_id = ma.fields.Int(required=True, validate=ma.validate.Range(min=1))


class MuteInSchema(TargetInSchema):
    duration = ma.fields.Str(
        required=True,
        validate=ma.validate.OneOf(DURATIONS),
        metadata={"description": "1 minute, 10 minutes, or the rest of the live."},
    )


class MuteSchema(ma.Schema):
    user_id = ma.fields.Int()
    until = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "null: the rest of the live."})


class RoomSettingsSchema(ma.Schema):
    slow_mode_seconds = ma.fields.Int(
        validate=ma.validate.Range(min=0, max=3600),
        metadata={"description": "Seconds between two messages of one person; 0: off."},
    )
    followers_only = ma.fields.Bool()
    comments_off = ma.fields.Bool()
    anonymous_questions = ma.fields.Bool()


class RoomSettingsInSchema(RoomSettingsSchema):
    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError(_("Send at least one setting to change."))


class QuestionSchema(ma.Schema):
    id = ma.fields.Int()
    body = ma.fields.Str()
    author = ma.fields.Nested(
        RoomUserSchema, allow_none=True, metadata={"description": "null when anonymous."}
    )
    votes = ma.fields.Int()
    status = ma.fields.Str(metadata={"enum": ["open", "answered", "dismissed"]})
    offset_ms = ma.fields.Int()
    answered_offset_ms = ma.fields.Int(allow_none=True)
    at = ma.fields.Str()


class ModerationEntrySchema(ma.Schema):
    id = ma.fields.Int()
    live_id = ma.fields.Int(
        allow_none=True, metadata={"description": "null: host-wide (moderators, words, bans)."}
    )
    action = ma.fields.Str(
        metadata={
            "enum": [
                "delete_message",
                "mute",
                "unmute",
                "kick",
                "ban",
                "unban",
                "settings",
                "moderator_add",
                "moderator_remove",
                "blocked_words",
                "guest_remove",
            ]
        }
    )
    label = ma.fields.Str(metadata={"description": "The action in the caller's language."})
    detail = ma.fields.Str()
    actor = ma.fields.Nested(RoomUserSchema, allow_none=True)
    target = ma.fields.Nested(RoomUserSchema, allow_none=True)
    created_at = ma.fields.AwareDateTime()


class ModeratorInSchema(ma.Schema):
    username = ma.fields.Str(required=True)


class BlockedWordsInSchema(ma.Schema):
    words = ma.fields.List(
        ma.fields.Str(),
        required=True,
        metadata={
            "description": f"The whole list (it replaces the current one): at most {BLOCKED_WORDS_MAX} "
            f"words of {BLOCKED_WORD_MAX_LENGTH} characters; case does not matter."
        },
    )


class BlockedWordsSchema(ma.Schema):
    words = ma.fields.List(ma.fields.Str(), metadata={"description": "Lower-case, sorted."})
    count = ma.fields.Int()
    max = ma.fields.Int()


class HostBanSchema(ma.Schema):
    user = ma.fields.Nested(RoomUserSchema)
    live_id = ma.fields.Int(allow_none=True, metadata={"description": "The live they were banned from."})
    created_at = ma.fields.AwareDateTime()


class ReportInSchema(ma.Schema):
    message_id = ma.fields.Int(metadata={"description": "A chat message (its author is reported)."})
    user_id = ma.fields.Int(metadata={"description": "A person, when no message is given."})
    live_id = ma.fields.Int(metadata={"description": "Where it happened, for a person's report."})
    reason = ma.fields.Str(required=True, metadata={"description": f"1 to {reports.REASON_MAX} characters."})


class ReportSchema(ma.Schema):
    id = ma.fields.Int()
    status = ma.fields.Str(metadata={"enum": REPORT_STATUSES})
    reason = ma.fields.Str()
    live_id = ma.fields.Int(allow_none=True)
    message_id = ma.fields.Int(allow_none=True)
    target = ma.fields.Nested(RoomUserSchema)
    created_at = ma.fields.AwareDateTime()


class AdminReportSchema(ReportSchema):
    reporter = ma.fields.Nested(RoomUserSchema)
    message_body = ma.fields.Str(
        allow_none=True, metadata={"description": "The message as it was when reported."}
    )
    note = ma.fields.Str(allow_none=True)
    handled_by = ma.fields.Nested(RoomUserSchema, allow_none=True)
    handled_at = ma.fields.AwareDateTime(allow_none=True)


class AdminReportPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminReportSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class ReportQueueArgs(PageArgs):
    status = ma.fields.Str(
        load_default="open",
        validate=ma.validate.OneOf([*REPORT_STATUSES, "all"]),
        metadata={"description": "Open ones come oldest first, handled ones latest first."},
    )


class ReportDecisionInSchema(ma.Schema):
    status = ma.fields.Str(required=True, validate=ma.validate.OneOf(["resolved", "dismissed"]))
    note = ma.fields.Str(
        load_default="",
        metadata={"description": f"For the other admins, {reports.NOTE_MAX} characters at most."},
    )


# -- payloads -----------------------------------------------------------------------------
def entry_payload(entry) -> dict:
    return {
        "id": entry.id,
        "live_id": entry.live_id,
        "action": entry.action,
        "label": moderators.action_label(entry),
        "detail": entry.detail or "",
        "actor": room.user_payload(entry.actor),
        "target": room.user_payload(entry.target),
        "created_at": entry.created_at,
    }


def report_payload(row) -> dict:
    return {
        "id": row.id,
        "status": row.status.value,
        "reason": row.reason,
        "live_id": row.live_id,
        "message_id": row.message_id,
        "target": room.user_payload(row.target),
        "created_at": row.created_at,
    }


def admin_report_payload(row) -> dict:
    return {
        **report_payload(row),
        "reporter": room.user_payload(row.reporter),
        "message_body": row.message_body,
        "note": row.note,
        "handled_by": room.user_payload(reports.handled_by(row)),
        "handled_at": row.handled_at,
    }


def _staff_live(live_id: int) -> Live:
    """The live, if the caller is its host, one of the host's moderators, or an admin."""
    live = lives.get_live(live_id)
    room.require_staff(live, current_user)
    return live


STAFF_ERRORS = (
    (401, "Not logged in."),
    (403, "Not the host, one of their moderators or an admin; or a token without the scope."),
    (404, "No such live."),
)


def _staff_doc(view):
    """The answers every staff operation shares."""
    for code, text in STAFF_ERRORS:
        view = bp.alt_response(code, schema=RoomErrorSchema, description=text)(view)
    return view


# -- the host and moderators, in one live -----------------------------------------------------
@bp.route("/lives/<int:live_id>/messages")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(MessagesArgs, location="query")
@bp.response(200, MessageSchema(many=True))
@_staff_doc
def messages(args, live_id):
    """The latest visible chat messages of a live, oldest first (host and moderators)."""
    live = _staff_live(live_id)
    return [chat.message_payload(m) for m in chat.recent_messages(live, args["limit"])]


@bp.route("/lives/<int:live_id>/messages/<int:message_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@_staff_doc
def delete_message(live_id, message_id):
    """Delete a message: it disappears from every viewer's screen."""
    moderation.delete_message(_staff_live(live_id), current_user, message_id)


@bp.route("/lives/<int:live_id>/mutes", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(MuteInSchema)
@bp.response(201, MuteSchema)
@_staff_doc
@bp.alt_response(409, schema=RoomErrorSchema, description="The live has ended.")
def mute(data, live_id):
    """Mute someone for 1 minute, 10 minutes or the rest of the live; their messages
    disappear for everyone. Not the host or other staff."""
    sanction = moderation.mute(_staff_live(live_id), current_user, data["user_id"], data["duration"])
    return {"user_id": data["user_id"], "until": sanction.until}


@bp.route("/lives/<int:live_id>/mutes/<int:user_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@_staff_doc
def unmute(live_id, user_id):
    """Lift a mute."""
    moderation.unmute(_staff_live(live_id), current_user, user_id)


@bp.route("/lives/<int:live_id>/kicks", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(TargetInSchema)
@bp.response(204)
@_staff_doc
def kick(data, live_id):
    """Remove someone from this live; they cannot come back to it."""
    moderation.kick(_staff_live(live_id), current_user, data["user_id"])


@bp.route("/lives/<int:live_id>/bans", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(TargetInSchema)
@bp.response(204)
@_staff_doc
def ban(data, live_id):
    """Remove someone from this live and ban them from every live of its host."""
    moderation.ban(_staff_live(live_id), current_user, data["user_id"])


@bp.route("/lives/<int:live_id>/room-settings", methods=["PATCH"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(RoomSettingsInSchema)
@bp.response(200, RoomSettingsSchema)
@_staff_doc
@bp.alt_response(422, schema=RoomErrorSchema)
def room_settings(data, live_id):
    """Slow mode, followers-only chat, comments off, anonymous questions (any of them)."""
    return moderation.update_settings(_staff_live(live_id), current_user, **data)


@bp.route("/lives/<int:live_id>/questions")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, QuestionSchema(many=True))
@_staff_doc
def question_queue(live_id):
    """The Q&A queue: open questions by votes then time, then answered, then dismissed."""
    live = _staff_live(live_id)
    return [questions.question_payload(q) for q in questions.listing(live, current_user)]


@bp.route("/lives/<int:live_id>/questions/<int:question_id>/answer", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, QuestionSchema)
@_staff_doc
@bp.alt_response(409, schema=RoomErrorSchema, description="Dismissed, or the live has ended.")
def answer_question(live_id, question_id):
    """Mark a question answered: it is pinned on every viewer's screen."""
    return questions.question_payload(questions.answer(_staff_live(live_id), current_user, question_id))


@bp.route("/lives/<int:live_id>/questions/<int:question_id>/dismiss", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, QuestionSchema)
@_staff_doc
@bp.alt_response(409, schema=RoomErrorSchema, description="Already dismissed, or the live has ended.")
def dismiss_question(live_id, question_id):
    """Take a question out of the list (and off the screen if it was pinned)."""
    return questions.question_payload(questions.dismiss(_staff_live(live_id), current_user, question_id))


@bp.route("/lives/<int:live_id>/pin", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@_staff_doc
def unpin(live_id):
    """Take the pinned question off every screen (it stays answered)."""
    questions.unpin(_staff_live(live_id), current_user)


@bp.route("/lives/<int:live_id>/questions.csv")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(
    200, {"type": "string"}, content_type="text/csv", description="One row per question, oldest first."
)
@_staff_doc
def questions_csv(live_id):
    """Every question of a live as CSV (during the live or after)."""
    live = lives.get_live(live_id)
    response = make_response("\ufeff" + questions.export_csv(live, current_user))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="live-{live.id}-questions.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/lives/<int:live_id>/moderation-log")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, ModerationEntrySchema(many=True))
@_staff_doc
def moderation_log(live_id):
    """What the host and moderators did in this live, the latest first (200 at most)."""
    live = _staff_live(live_id)
    return [entry_payload(e) for e in moderators.log_entries(live.host, live)]


# -- a host, for all their lives -----------------------------------------------------------------
@bp.route("/moderators")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, RoomUserSchema(many=True))
def list_moderators():
    """Your moderators: they moderate every live of yours."""
    return [room.user_payload(u) for u in moderators.moderators_of(current_user)]


@bp.route("/moderators", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ModeratorInSchema)
@bp.response(201, RoomUserSchema)
@bp.alt_response(404, schema=ApiErrorSchema, description="No one has this username.")
@bp.alt_response(409, schema=ApiErrorSchema, description="Already your moderator, yourself, or banned.")
def add_moderator(data):
    """Appoint a moderator of all your lives; they are notified, and their open
    connections to your running lives get the moderator role at once."""
    person = accounts.get_by_username(data["username"])
    moderators.appoint(current_user, current_user, person)
    return room.user_payload(person)


@bp.route("/moderators/<username>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(404, schema=ApiErrorSchema, description="No such person, or not your moderator.")
def remove_moderator(username):
    """Stop someone moderating your lives, at once."""
    moderators.remove(current_user, current_user, accounts.get_by_username(username))


@bp.route("/blocked-words")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, BlockedWordsSchema)
def get_blocked_words():
    """Words refused in the chat of all your lives."""
    words = moderators.blocked_words(current_user.id)
    return {"words": words, "count": len(words), "max": BLOCKED_WORDS_MAX}


@bp.route("/blocked-words", methods=["PUT"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(BlockedWordsInSchema)
@bp.response(200, BlockedWordsSchema)
@bp.alt_response(422, schema=ApiErrorSchema, description="Too many words, or one too long.")
def put_blocked_words(data):
    """Replace your blocked words (trimmed, lower-cased, duplicates dropped)."""
    words = moderators.set_blocked_words(current_user, current_user, data["words"])
    return {"words": words, "count": len(words), "max": BLOCKED_WORDS_MAX}


@bp.route("/bans")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, HostBanSchema(many=True))
def list_bans():
    """People banned from your lives, the latest first."""
    return [
        {"user": room.user_payload(b.user), "live_id": b.live_id, "created_at": b.created_at}
        for b in moderators.bans_of(current_user)
    ]


@bp.route("/bans/<int:user_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(404, schema=ApiErrorSchema, description="Not banned from your lives.")
def unban(user_id):
    """Let someone join your lives again."""
    moderators.unban(current_user, current_user, user_id)


# -- reports ----------------------------------------------------------------------------------------
@bp.route("/reports", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ReportInSchema)
@bp.response(201, ReportSchema)
@bp.alt_response(404, schema=RoomErrorSchema, description="No such message, person or live.")
@bp.alt_response(409, schema=RoomErrorSchema, description="You reported it already; it is still open.")
@bp.alt_response(422, schema=RoomErrorSchema)
@bp.alt_response(429, schema=RoomErrorSchema, description="Ten reports an hour; retry_after says when.")
def create_report(data):
    """Report a chat message or a person to the site admins."""
    live = None
    if data.get("live_id") is not None and data.get("message_id") is None:
        live = db.session.get(Live, data["live_id"])
        if live is None or not lives.can_watch(live, current_user):
            raise NotFound(_("No such live."))
    row = reports.create(
        current_user,
        live=live,
        message_id=data.get("message_id"),
        user_id=data.get("user_id"),
        reason=data["reason"],
    )
    return report_payload(row)


@bp.route("/admin/reports")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(ReportQueueArgs, location="query")
@bp.response(200, AdminReportPageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def admin_reports(args):
    """Reports for admins: ``?status=open`` (the default) for the queue."""
    status = None if args["status"] == "all" else ReportStatus(args["status"])
    page = db.paginate(
        reports.reports_query(current_user, status),
        page=args["page"],
        per_page=args["per_page"],
        error_out=False,
    )
    return page_payload(page, admin_report_payload)


@bp.route("/admin/reports/<int:report_id>/decision", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ReportDecisionInSchema)
@bp.response(200, AdminReportSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="Already handled.")
@bp.alt_response(422, schema=ApiErrorSchema)
def decide_report(data, report_id):
    """Resolve (something was done) or dismiss a report, with an optional note."""
    # Admins first: nobody else learns which report ids exist.
    require_admin(current_user)
    row = reports.get_report(report_id)
    return admin_report_payload(reports.decide(row, current_user, data["status"], data["note"]))

"""Live-access requests: ask for live access, and (admins) answer."""

from datetime import date

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.accounts import DecisionSchema
from livelite.blueprints.api.common import (
    AUTH_DOC,
    ApiErrorSchema,
    PageArgs,
    UserSchema,
    page_payload,
    require,
    user_payload,
)
from livelite.extensions import db
from livelite.models import AccessRequestStatus
from livelite.services import access, admin, policy
from livelite.services.access import NOTE_MAX, REASON_MAX, REASON_MIN

bp = Blueprint("api_access", __name__, url_prefix="/api/v1", description="Live-access requests")

STATUSES = [s.value for s in AccessRequestStatus]


class AccessRequestSchema(ma.Schema):
    id = ma.fields.Int()
    status = ma.fields.Str(metadata={"enum": STATUSES})
    reason = ma.fields.Str()
    note = ma.fields.Str(metadata={"description": "The admin's note; empty until decided."})
    created_at = ma.fields.AwareDateTime()
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    user = ma.fields.Nested(UserSchema)


class AdminAccessRequestSchema(AccessRequestSchema):
    age = ma.fields.Int(metadata={"description": "The person's age today, from their birth date."})
    decided_by = ma.fields.Nested(UserSchema, allow_none=True)


class AdminAccessRequestPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminAccessRequestSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class MineSchema(ma.Schema):
    may_go_live = ma.fields.Nested(DecisionSchema)
    can_request = ma.fields.Bool(metadata={"description": "Whether a new request would be accepted now."})
    why_not = ma.fields.Str(allow_none=True, metadata={"description": "Why not, when it would not."})
    latest = ma.fields.Nested(AccessRequestSchema, allow_none=True)
    items = ma.fields.List(
        ma.fields.Nested(AccessRequestSchema), metadata={"description": "Your requests, newest first."}
    )


class RequestInSchema(ma.Schema):
    reason = ma.fields.Str(
        required=True,
        metadata={"description": f"Why you want to go live, {REASON_MIN} to {REASON_MAX} characters."},
    )


class DecisionInSchema(ma.Schema):
    approve = ma.fields.Bool(required=True)
    note = ma.fields.Str(
        load_default="",
        metadata={"description": f"Shown to the person; required to refuse, {NOTE_MAX} characters at most."},
    )


class QueueArgs(PageArgs):
    status = ma.fields.Str(
        load_default=None,
        validate=ma.validate.OneOf(STATUSES),
        metadata={"description": "Pending ones come oldest first, decided ones latest first; omit for all."},
    )


def request_payload(row) -> dict:
    return {
        "id": row.id,
        "status": row.status.value,
        "reason": row.reason,
        "note": row.note,
        "created_at": row.created_at,
        "decided_at": row.decided_at,
        "user": user_payload(row.user),
    }


def admin_request_payload(row) -> dict:
    return {
        **request_payload(row),
        "age": policy.age_on(row.user.birth_date, date.today()),
        "decided_by": user_payload(row.decided_by) if row.decided_by else None,
    }


@bp.route("/access-requests", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(RequestInSchema)
@bp.response(201, AccessRequestSchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="Banned, or only the age limit stands in the way.")
@bp.alt_response(409, schema=ApiErrorSchema, description="You may already go live, or a request is pending.")
@bp.alt_response(422, schema=ApiErrorSchema)
def create(data):
    """Ask the admins for live access; every admin is notified."""
    return request_payload(access.request_access(current_user, data["reason"]))


@bp.route("/access-requests/mine")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, MineSchema)
def mine():
    """Whether you may go live, whether you may ask, and your requests with the answers."""
    decision = policy.may_go_live(current_user)
    refusal = access.refusal(current_user)
    rows = access.requests_of(current_user)
    return {
        "may_go_live": {"allowed": decision.allowed, "reasons": decision.reasons},
        "can_request": refusal is None,
        "why_not": refusal.message if refusal else None,
        "latest": request_payload(rows[0]) if rows else None,
        "items": [request_payload(r) for r in rows],
    }


@bp.route("/admin/access-requests")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(QueueArgs, location="query")
@bp.response(200, AdminAccessRequestPageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def admin_list(args):
    """Requests for admins, e.g. ``?status=pending`` for the queue."""
    status = AccessRequestStatus(args["status"]) if args["status"] else None
    stmt = access.queue_query(current_user, status)
    page = db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False)
    return page_payload(page, admin_request_payload)


@bp.route("/admin/access-requests/<int:request_id>/decision", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(DecisionInSchema)
@bp.response(200, AdminAccessRequestSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="Already decided.")
@bp.alt_response(422, schema=ApiErrorSchema, description="A refusal needs a note; notes are limited.")
def decide(data, request_id):
    """Approve (the person may go live) or refuse, with a note the person reads."""
    # Admins first: nobody else learns which request ids exist.
    admin.require_admin(current_user)
    row = access.get_request(request_id)
    return admin_request_payload(access.decide(current_user, row, data["approve"], data["note"]))

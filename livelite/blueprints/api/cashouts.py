"""A creator's earnings and cash-outs; the admins' cash-out queue and its CSV export."""

from __future__ import annotations

import marshmallow as ma
from flask import make_response
from flask_login import current_user
from flask_smorest import Blueprint

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
from livelite.models import CashoutStatus
from livelite.services import admin, cashouts, earnings
from livelite.services.cashouts import DECISIONS, NOTE_MAX, PAYOUT_DETAILS_MAX, PAYOUT_DETAILS_MIN

bp = Blueprint("api_cashouts", __name__, url_prefix="/api/v1", description="Earnings and cash-outs")

STATUSES = [s.value for s in CashoutStatus]


# -- schemas ------------------------------------------------------------------------------
class CashoutSchema(ma.Schema):
    id = ma.fields.Int()
    status = ma.fields.Str(
        metadata={
            "enum": STATUSES,
            "description": "approved: the diamonds are paid out and the money is still to send; "
            "paid: the money was sent.",
        }
    )
    diamonds = ma.fields.Int()
    amount_cents = ma.fields.Int(metadata={"description": "Fixed at the rate of the day it was asked for."})
    currency = ma.fields.Str(metadata={"description": "ISO 4217"})
    amount = ma.fields.Str(metadata={"description": "The amount written for the caller's language."})
    payout_details = ma.fields.Str()
    note = ma.fields.Str(
        metadata={"description": "The admins' note (a rejection's reason, a payment reference)."}
    )
    created_at = ma.fields.AwareDateTime()
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    paid_at = ma.fields.AwareDateTime(allow_none=True)


class AdminCashoutSchema(CashoutSchema):
    user = ma.fields.Nested(
        UserSchema, allow_none=True, metadata={"description": "None: the account was deleted."}
    )
    email = ma.fields.Str(allow_none=True)
    decided_by = ma.fields.Nested(UserSchema, allow_none=True)


class AdminCashoutPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminCashoutSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class CashoutQuoteSchema(ma.Schema):
    diamonds = ma.fields.Int(metadata={"description": "Diamonds you may cash out now."})
    diamonds_held = ma.fields.Int(metadata={"description": "Diamonds held in your pending cash-out."})
    minimum = ma.fields.Int(metadata={"description": "The fewest diamonds in a cash-out."})
    cents_per_100_diamonds = ma.fields.Int(metadata={"description": "Today's rate."})
    currency = ma.fields.Str()
    available_cents = ma.fields.Int(metadata={"description": "What your diamonds are worth today."})


class EarningsTotalsSchema(ma.Schema):
    diamonds = ma.fields.Int(metadata={"description": "Earned from gifts, all time."})
    diamonds_this_month = ma.fields.Int(metadata={"description": "Since the 1st of this month (UTC)."})
    gifts = ma.fields.Int()
    coins = ma.fields.Int(metadata={"description": "What the senders spent on your gifts."})
    lives = ma.fields.Int()


class LiveEarningsSchema(ma.Schema):
    live_id = ma.fields.Int(allow_none=True, metadata={"description": "None: the live was deleted."})
    title = ma.fields.Str()
    date = ma.fields.AwareDateTime()
    gifts = ma.fields.Int()
    coins = ma.fields.Int()
    diamonds = ma.fields.Int()
    top_gifter = ma.fields.Nested(UserSchema, allow_none=True)
    top_gifter_coins = ma.fields.Int()


class EarningsLivesPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LiveEarningsSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class GiftEarningsSchema(ma.Schema):
    gift_id = ma.fields.Int()
    name = ma.fields.Str()
    icon_url = ma.fields.Str()
    count = ma.fields.Int()
    coins = ma.fields.Int()
    diamonds = ma.fields.Int()


class EarningsSchema(ma.Schema):
    totals = ma.fields.Nested(EarningsTotalsSchema)
    balance = ma.fields.Nested(CashoutQuoteSchema)
    lives = ma.fields.Nested(
        EarningsLivesPageSchema, metadata={"description": "Latest first; paged by ?page=."}
    )
    gifts = ma.fields.List(
        ma.fields.Nested(GiftEarningsSchema), metadata={"description": "Most diamonds first."}
    )


class CashoutsMineSchema(ma.Schema):
    can_request = ma.fields.Bool(metadata={"description": "Whether a new request would be accepted now."})
    why_not = ma.fields.Str(allow_none=True)
    balance = ma.fields.Nested(CashoutQuoteSchema)
    items = ma.fields.List(ma.fields.Nested(CashoutSchema), metadata={"description": "Newest first."})


class CashoutInSchema(ma.Schema):
    diamonds = ma.fields.Int(
        required=True, strict=True, metadata={"description": "At least the minimum, at most your diamonds."}
    )
    payout_details = ma.fields.Str(
        required=True,
        metadata={
            "description": f"Where to send the money (an IBAN, a PayPal address), "
            f"{PAYOUT_DETAILS_MIN} to {PAYOUT_DETAILS_MAX} characters."
        },
    )
    idempotency_key = ma.fields.Str(
        required=True,
        metadata={
            "description": "Your key for this request (1–128 characters): sent again, it returns the same request."
        },
    )


class CashoutDecisionInSchema(ma.Schema):
    decision = ma.fields.Str(required=True, validate=ma.validate.OneOf(DECISIONS))
    note = ma.fields.Str(
        load_default="",
        metadata={
            "description": f"approve: optional; reject: required, the creator reads it; paid: the payment's "
            f"reference, optional. {NOTE_MAX} characters at most."
        },
    )


class CashoutListArgs(PageArgs):
    status = ma.fields.Str(
        load_default=None,
        validate=ma.validate.OneOf(STATUSES),
        metadata={
            "description": "Pending ones oldest first, approved ones (to pay) oldest decision first; omit for all."
        },
    )


class CashoutCsvArgs(ma.Schema):
    status = ma.fields.Str(load_default=None, validate=ma.validate.OneOf(STATUSES))


# -- payloads ------------------------------------------------------------------------------
def cashout_payload(row) -> dict:
    return {
        "id": row.id,
        "status": row.status.value,
        "diamonds": row.diamonds,
        "amount_cents": row.amount_cents,
        "currency": row.currency,
        "amount": cashouts.money(row.amount_cents, row.currency),
        "payout_details": row.payout_details,
        "note": row.note,
        "created_at": row.created_at,
        "decided_at": row.decided_at,
        "paid_at": row.paid_at,
    }


def admin_cashout_payload(row) -> dict:
    return {
        **cashout_payload(row),
        "user": user_payload(row.user) if row.user else None,
        "email": row.user.email if row.user else None,
        "decided_by": user_payload(row.decided_by) if row.decided_by else None,
    }


def quote_payload(quote: cashouts.Quote) -> dict:
    return {
        "diamonds": quote.diamonds,
        "diamonds_held": quote.held,
        "minimum": quote.minimum,
        "cents_per_100_diamonds": quote.cents_per_100,
        "currency": quote.currency,
        "available_cents": quote.available_cents,
    }


def _icon_url(icon: str) -> str:
    from flask import url_for

    return url_for("static", filename=f"img/gifts/{icon}", _external=True)


# -- a creator's ------------------------------------------------------------------------------
@bp.route("/earnings")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(PageArgs, location="query")
@bp.response(200, EarningsSchema)
def my_earnings(args):
    """Your diamonds from gifts: totals, per live (paged) and per gift, and what they are worth."""
    totals = earnings.totals(current_user)
    lives = earnings.per_live(current_user, page=args["page"], per_page=args["per_page"])
    return {
        "totals": vars(totals),
        "balance": quote_payload(cashouts.quote(current_user)),
        "lives": {
            "items": [
                {**vars(item), "top_gifter": user_payload(item.top_gifter) if item.top_gifter else None}
                for item in lives.items
            ],
            "page": lives.page,
            "pages": lives.pages,
            "total": lives.total,
        },
        "gifts": [{**vars(g), "icon_url": _icon_url(g.icon)} for g in earnings.per_gift(current_user)],
    }


@bp.route("/cashouts", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(CashoutInSchema)
@bp.response(201, CashoutSchema, description="Asked; the diamonds are held.")
@bp.alt_response(200, schema=CashoutSchema, description="The same key again: the request it made.")
@bp.alt_response(403, schema=ApiErrorSchema, description="Banned, or too young to receive gifts.")
@bp.alt_response(
    409,
    schema=ApiErrorSchema,
    description="A cash-out is already pending, or the key was used for another one.",
)
@bp.alt_response(
    422, schema=ApiErrorSchema, description="Below the minimum, above your diamonds, bad details."
)
def create(data):
    """Ask for a cash-out; the diamonds are held until an admin decides. Every admin is notified."""
    row, created = cashouts.request_cashout(
        current_user, data["diamonds"], data["payout_details"], data["idempotency_key"]
    )
    return cashout_payload(row), (201 if created else 200)


@bp.route("/cashouts/mine")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, CashoutsMineSchema)
def mine():
    """Your cash-outs with their answers, your diamonds, today's rate, and whether you may ask."""
    refusal = cashouts.refusal(current_user)
    return {
        "can_request": refusal is None,
        "why_not": refusal.message if refusal else None,
        "balance": quote_payload(cashouts.quote(current_user)),
        "items": [cashout_payload(r) for r in cashouts.requests_of(current_user)],
    }


@bp.route("/cashouts/<int:request_id>/cancel", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, CashoutSchema)
@bp.alt_response(404, schema=ApiErrorSchema, description="Not one of your requests.")
@bp.alt_response(409, schema=ApiErrorSchema, description="No longer pending.")
def cancel(request_id):
    """Take back your pending cash-out; the held diamonds come back."""
    row = cashouts.get_own(current_user, request_id)
    return cashout_payload(cashouts.cancel(current_user, row))


# -- admins ----------------------------------------------------------------------------------------
@bp.route("/admin/cashouts")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(CashoutListArgs, location="query")
@bp.response(200, AdminCashoutPageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def admin_list(args):
    """Cash-outs for admins, e.g. ``?status=pending`` for the queue, ``?status=approved`` for money to send."""
    status = CashoutStatus(args["status"]) if args["status"] else None
    stmt = cashouts.admin_query(current_user, status)
    page = db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False)
    return page_payload(page, admin_cashout_payload)


@bp.route("/admin/cashouts/<int:request_id>/decision", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(CashoutDecisionInSchema)
@bp.response(200, AdminCashoutSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="Already decided (or, to mark paid, not approved).")
@bp.alt_response(422, schema=ApiErrorSchema, description="A rejection needs a note; notes are limited.")
def decide(data, request_id):
    """Approve (the held diamonds are paid out), reject (they go back; with a note) or
    mark an approved cash-out paid (with the payment's reference as the note)."""
    # Admins first: nobody else learns which request ids exist.
    admin.require_admin(current_user)
    row = cashouts.get_request(request_id)
    return admin_cashout_payload(cashouts.decide(current_user, row, data["decision"], data["note"]))


@bp.route("/admin/cashouts.csv")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(CashoutCsvArgs, location="query")
@bp.response(
    200,
    {"type": "string"},
    content_type="text/csv",
    description="id, username, email, diamonds, amount, currency, payout details, status, requested, decided, paid, note.",
)
@bp.alt_response(403, schema=ApiErrorSchema)
def admin_csv(args):
    """Cash-outs as CSV (all, or one ``status``); text cells are guarded against spreadsheet formulas."""
    status = CashoutStatus(args["status"]) if args["status"] else None
    response = make_response("\ufeff" + cashouts.export_csv(current_user, status))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="cashouts.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response

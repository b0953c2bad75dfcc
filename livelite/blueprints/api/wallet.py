"""The wallet and coins: balances, history, packages, coin requests; for admins, the
request queue and decisions, grants and packages (services.coins)."""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask import current_app
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
from livelite.models import CoinRequestStatus, TransactionType
from livelite.services import admin, coins, ledger, policy
from livelite.services.coins import COINS_MAX, COINS_MIN, MEMO_MAX, NOTE_MAX, PRICE_MAX_CENTS, PRICE_MIN_CENTS

bp = Blueprint("api_wallet", __name__, url_prefix="/api/v1", description="Wallet and coins")

STATUSES = [s.value for s in CoinRequestStatus]
KEY_DOC = (
    "Your idempotency key (1 to 128 printable characters, e.g. a UUID): sending the same "
    "key again returns the first result and changes nothing."
)


# -- schemas ------------------------------------------------------------------------
class WalletSchema(ma.Schema):
    coins = ma.fields.Int()
    diamonds = ma.fields.Int()
    diamonds_held = ma.fields.Int(metadata={"description": "Diamonds in cash-outs waiting for an admin."})
    currency = ma.fields.Str(metadata={"description": "ISO 4217 code of the coin prices."})
    may_buy = ma.fields.Bool(
        metadata={"description": "Whether you may buy coins (sending gifts needs an age)."}
    )
    why_not = ma.fields.Str(allow_none=True)
    pending_requests = ma.fields.Int()


class WalletHistoryItemSchema(ma.Schema):
    entry_id = ma.fields.Int()
    transaction_id = ma.fields.Int()
    type = ma.fields.Str(metadata={"enum": [t.value for t in TransactionType]})
    type_label = ma.fields.Str()
    account = ma.fields.Str(metadata={"enum": ["coins", "diamonds", "diamonds_held"]})
    amount = ma.fields.Int(metadata={"description": "Positive: came in; negative: went out."})
    memo = ma.fields.Str()
    reference = ma.fields.Str(metadata={"description": "What caused it, e.g. gift_send:12, coin_request:3."})
    created_at = ma.fields.AwareDateTime()
    live_id = ma.fields.Int(allow_none=True, metadata={"description": "The live of a gift."})
    gift_name = ma.fields.Str(allow_none=True)
    counterpart = ma.fields.Str(
        allow_none=True, metadata={"description": "The other person of a gift, or the admin of a grant."}
    )
    coin_request_id = ma.fields.Int(allow_none=True)
    cashout_id = ma.fields.Int(allow_none=True)


class WalletHistoryPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WalletHistoryItemSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class CoinPackageSchema(ma.Schema):
    id = ma.fields.Int()
    coins = ma.fields.Int()
    price_cents = ma.fields.Int()
    currency = ma.fields.Str()
    price = ma.fields.Str(metadata={"description": "The price as a reader sees it, e.g. €4.99."})
    active = ma.fields.Bool()


class PaymentProviderSchema(ma.Schema):
    name = ma.fields.Str(metadata={"description": "What to send as `provider`."})
    label = ma.fields.Str()


class CoinPackagesSchema(ma.Schema):
    currency = ma.fields.Str()
    packages = ma.fields.List(
        ma.fields.Nested(CoinPackageSchema), metadata={"description": "On sale, fewest coins first."}
    )
    providers = ma.fields.List(
        ma.fields.Nested(PaymentProviderSchema),
        metadata={"description": "Ways to pay offered now; `test` only in demo mode."},
    )


class CoinRequestSchema(ma.Schema):
    id = ma.fields.Int()
    status = ma.fields.Str(metadata={"enum": STATUSES})
    package_id = ma.fields.Int(allow_none=True)
    coins = ma.fields.Int()
    price_cents = ma.fields.Int()
    currency = ma.fields.Str()
    provider = ma.fields.Str()
    note = ma.fields.Str(metadata={"description": "The admin's note; empty until decided."})
    created_at = ma.fields.AwareDateTime()
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    transaction_id = ma.fields.Int(allow_none=True, metadata={"description": "The purchase, once approved."})


class CoinRequestPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CoinRequestSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class AdminCoinRequestSchema(CoinRequestSchema):
    user = ma.fields.Nested(UserSchema, allow_none=True)
    age = ma.fields.Int(allow_none=True, metadata={"description": "The person's age today."})
    decided_by = ma.fields.Nested(UserSchema, allow_none=True)


class AdminCoinRequestPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminCoinRequestSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class CoinRequestInSchema(ma.Schema):
    package_id = ma.fields.Int(required=True)
    provider = ma.fields.Str(
        load_default="manual",
        metadata={
            "description": "`manual` (an admin approves) or, in demo mode only, `test` (approved at once)."
        },
    )
    idempotency_key = ma.fields.Str(required=True, metadata={"description": KEY_DOC})


class CoinDecisionInSchema(ma.Schema):
    decision = ma.fields.Str(required=True, validate=ma.validate.OneOf(["approve", "reject"]))
    note = ma.fields.Str(
        load_default="",
        metadata={"description": f"Shown to the person; required to reject, {NOTE_MAX} characters at most."},
    )


class CoinGrantInSchema(ma.Schema):
    username = ma.fields.Str(required=True)
    coins = ma.fields.Int(required=True, metadata={"description": f"{COINS_MIN} to {COINS_MAX}."})
    memo = ma.fields.Str(
        required=True,
        metadata={"description": f"The reason, shown to the person; {MEMO_MAX} characters at most."},
    )
    idempotency_key = ma.fields.Str(required=True, metadata={"description": KEY_DOC})


class CoinGrantSchema(ma.Schema):
    transaction_id = ma.fields.Int()
    user = ma.fields.Nested(UserSchema)
    coins = ma.fields.Int()
    memo = ma.fields.Str()
    created = ma.fields.Bool(
        metadata={"description": "False when the key had been used: nothing moved again."}
    )
    balance = ma.fields.Int(metadata={"description": "The person's coins now."})
    created_at = ma.fields.AwareDateTime()


class CoinPackageInSchema(ma.Schema):
    coins = ma.fields.Int(required=True, metadata={"description": f"{COINS_MIN} to {COINS_MAX}."})
    price_cents = ma.fields.Int(
        required=True,
        metadata={"description": f"{PRICE_MIN_CENTS} to {PRICE_MAX_CENTS}, in the site's currency."},
    )


class CoinPackagePatchSchema(ma.Schema):
    coins = ma.fields.Int()
    price_cents = ma.fields.Int()
    active = ma.fields.Bool(metadata={"description": "False retires the package; true puts it back on sale."})


class CoinQueueArgs(PageArgs):
    status = ma.fields.Str(
        load_default=None,
        validate=ma.validate.OneOf(STATUSES),
        metadata={"description": "Pending ones come oldest first, decided ones latest first; omit for all."},
    )


# -- payloads -----------------------------------------------------------------------
def package_payload(row) -> dict:
    return {
        "id": row.id,
        "coins": row.coins,
        "price_cents": row.price_cents,
        "currency": row.currency,
        "price": coins.money(row.price_cents, row.currency),
        "active": row.active,
    }


def request_payload(row) -> dict:
    return {
        "id": row.id,
        "status": row.status.value,
        "package_id": row.package_id,
        "coins": row.coins,
        "price_cents": row.price_cents,
        "currency": row.currency,
        "provider": row.provider,
        "note": row.note,
        "created_at": row.created_at,
        "decided_at": row.decided_at,
        "transaction_id": row.transaction_id,
    }


def admin_request_payload(row) -> dict:
    return {
        **request_payload(row),
        "user": user_payload(row.user) if row.user else None,
        "age": policy.age_on(row.user.birth_date, date.today()) if row.user else None,
        "decided_by": user_payload(row.decided_by) if row.decided_by else None,
    }


def history_payload(item: coins.HistoryItem) -> dict:
    tx = item.transaction
    send = item.gift_send
    counterpart = None
    if send is not None:
        other = send.receiver if item.amount < 0 else send.sender
        counterpart = other.username if other else None
    elif item.granted_by is not None:
        counterpart = item.granted_by.username
    return {
        "entry_id": item.entry.id,
        "transaction_id": tx.id,
        "type": tx.type.value,
        "type_label": item.type_label,
        "account": item.kind.value,
        "amount": item.amount,
        "memo": tx.memo,
        "reference": tx.reference,
        "created_at": tx.created_at,
        "live_id": send.live_id if send else None,
        "gift_name": send.gift.name if send else None,
        "counterpart": counterpart,
        "coin_request_id": item.coin_request.id if item.coin_request else None,
        "cashout_id": item.cashout.id if item.cashout else None,
    }


# -- the person's ---------------------------------------------------------------------
@bp.route("/wallet")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, WalletSchema)
def wallet():
    """Your coins, diamonds and held diamonds, and whether you may buy coins."""
    return coins.wallet_summary(current_user)


@bp.route("/wallet/history")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(PageArgs, location="query")
@bp.response(200, WalletHistoryPageSchema)
def history(args):
    """Every movement of your coins and diamonds, newest first."""
    page = db.paginate(
        coins.history_query(current_user), page=args["page"], per_page=args["per_page"], error_out=False
    )
    return {
        "items": [history_payload(item) for item in coins.explain(page.items)],
        "page": page.page,
        "pages": page.pages,
        "total": page.total,
    }


@bp.route("/coin-packages")
@bp.response(200, CoinPackagesSchema)
def packages():
    """The coin packages on sale and the ways to pay offered now."""
    return {
        "currency": current_app.config["CURRENCY"],
        "packages": [package_payload(p) for p in coins.active_packages()],
        "providers": [{"name": p.name, "label": p.label} for p in coins.providers()],
    }


@bp.route("/coin-requests", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(CoinRequestInSchema)
@bp.response(201, CoinRequestSchema, description="Created (approved at once by the test provider).")
@bp.alt_response(200, schema=CoinRequestSchema, description="The key was used: the first request, unchanged.")
@bp.alt_response(403, schema=ApiErrorSchema, description="Banned, or too young to send gifts.")
@bp.alt_response(
    409, schema=ApiErrorSchema, description="Too many pending requests, or the key was used for another."
)
@bp.alt_response(422, schema=ApiErrorSchema, description="Unknown or retired package; provider not offered.")
def create_request(data):
    """Ask for a coin package. With `manual`, every admin is told and one approves or rejects."""
    made = coins.request_coins(current_user, data["package_id"], data["provider"], data["idempotency_key"])
    return request_payload(made.request), 201 if made.created else 200


@bp.route("/coin-requests/mine")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(PageArgs, location="query")
@bp.response(200, CoinRequestPageSchema)
def my_requests(args):
    """Your coin requests, newest first, with the admins' notes."""
    page = db.paginate(
        coins.requests_of_query(current_user), page=args["page"], per_page=args["per_page"], error_out=False
    )
    return page_payload(page, request_payload)


@bp.route("/coin-requests/<int:request_id>/cancel", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, CoinRequestSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="No longer pending.")
def cancel_request(request_id):
    """Take back one of your pending requests."""
    row = coins.get_own_request(current_user, request_id)
    return request_payload(coins.cancel(current_user, row))


# -- admins ---------------------------------------------------------------------------
@bp.route("/admin/coin-requests")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(CoinQueueArgs, location="query")
@bp.response(200, AdminCoinRequestPageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def admin_requests(args):
    """Coin requests for admins, e.g. ``?status=pending`` for the queue."""
    status = CoinRequestStatus(args["status"]) if args["status"] else None
    stmt = coins.queue_query(current_user, status)
    page = db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False)
    return page_payload(page, admin_request_payload)


@bp.route("/admin/coin-requests/<int:request_id>/decision", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(CoinDecisionInSchema)
@bp.response(200, AdminCoinRequestSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="Already decided or cancelled: nothing moved.")
@bp.alt_response(422, schema=ApiErrorSchema, description="A rejection needs a note; notes are limited.")
def decide(data, request_id):
    """Approve (the coins are credited once) or reject, with a note the person reads."""
    admin.require_admin(current_user)
    row = coins.get_request(request_id)
    return admin_request_payload(coins.decide(current_user, row, data["decision"], data["note"]))


@bp.route("/admin/coin-grants", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(CoinGrantInSchema)
@bp.response(201, CoinGrantSchema)
@bp.alt_response(
    200, schema=CoinGrantSchema, description="The key was used: the first grant, nothing moved again."
)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="The key was used for a different grant.")
@bp.alt_response(422, schema=ApiErrorSchema)
def grant(data):
    """Give coins to a person (class credits, community rewards); they are told, with the memo."""
    done = coins.grant(current_user, data["username"], data["coins"], data["memo"], data["idempotency_key"])
    payload = {
        "transaction_id": done.transaction.id,
        "user": user_payload(done.user),
        "coins": done.coins,
        "memo": done.transaction.memo,
        "created": done.created,
        "balance": ledger.balance(done.user),
        "created_at": done.transaction.created_at,
    }
    return payload, 201 if done.created else 200


@bp.route("/admin/coin-packages")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, CoinPackageSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
def admin_packages():
    """Every package, on sale first, then retired ones."""
    return [package_payload(p) for p in coins.all_packages(current_user)]


@bp.route("/admin/coin-packages", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(CoinPackageInSchema)
@bp.response(201, CoinPackageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def create_package(data):
    """Put a new package on sale, in the site's currency."""
    return package_payload(coins.create_package(current_user, data["coins"], data["price_cents"]))


@bp.route("/admin/coin-packages/<int:package_id>", methods=["PATCH"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(CoinPackagePatchSchema)
@bp.response(200, CoinPackageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def update_package(data, package_id):
    """Change coins or price, retire (`active: false`) or put back on sale. Requests
    already made keep their coins and price."""
    admin.require_admin(current_user)
    row = coins.get_package(package_id)
    return package_payload(coins.update_package(current_user, row, **data))

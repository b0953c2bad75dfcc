"""Gifts for programs: the catalogue, sending a gift in a live, a live's gifts and top
gifters, the host's LIVE goal, and the admins' catalogue.

Sending calls the same service as the ``gift_send`` socket event (docs/realtime.md,
"Gifts"), so the rules are the same and the room sees the animation at once. The
``idempotency_key`` in the body makes a retry safe: the same key answers with the first
send (200 instead of 201) and charges nothing. Refusals keep the room's machine-readable
``code`` next to the usual error body; not enough coins also carries ``balance``,
``needed`` and ``wallet_url``.
"""

from __future__ import annotations

import marshmallow as ma
from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, require
from livelite.extensions import db
from livelite.models import GiftAnimation
from livelite.services import gifts, ledger, lives, room
from livelite.services.admin import require_admin

bp = Blueprint(
    "api_gifts",
    __name__,
    url_prefix="/api/v1",
    description="Gifts in lives: the catalogue, sending, top gifters, LIVE goals; the admins' catalogue.",
)

ANIMATIONS = [a.value for a in GiftAnimation]


@bp.errorhandler(room.RoomError)
def _room_error(exc: room.RoomError):
    """The usual error body plus the room's ``code`` (and the figures of a refusal for
    lack of coins)."""
    db.session.rollback()
    extra = {k: v for k, v in exc.payload().items() if k not in ("ok", "error")}
    error = {"status": exc.status, "message": exc.message, **extra}
    response = jsonify({"error": error})
    response.status_code = exc.status
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


# -- schemas ------------------------------------------------------------------------------
class GiftErrorDetailSchema(ApiErrorSchema.Inner):
    code = ma.fields.Str(metadata={"description": "The room's error code (docs/realtime.md)."})
    balance = ma.fields.Int(metadata={"description": "insufficient_funds: the coins you have."})
    needed = ma.fields.Int(metadata={"description": "insufficient_funds: what the gift costs."})
    wallet_url = ma.fields.Str(metadata={"description": "insufficient_funds: where to get coins."})


class GiftErrorSchema(ma.Schema):
    error = ma.fields.Nested(GiftErrorDetailSchema, required=True)


class GiftUserSchema(ma.Schema):
    id = ma.fields.Int()
    username = ma.fields.Str()
    display_name = ma.fields.Str()
    avatar_url = ma.fields.Str(allow_none=True)


class GiftSchema(ma.Schema):
    id = ma.fields.Int()
    name = ma.fields.Str(metadata={"description": "In the caller's language for the default gifts."})
    icon_url = ma.fields.Str()
    coins = ma.fields.Int(metadata={"description": "What one costs."})
    animation = ma.fields.Str(metadata={"enum": ANIMATIONS})


class AdminGiftSchema(GiftSchema):
    stored_name = ma.fields.Str(metadata={"description": "The name as stored (and edited)."})
    icon = ma.fields.Str(metadata={"description": "A file of static/img/gifts/."})
    active = ma.fields.Bool(metadata={"description": "False: retired, in no picker."})
    position = ma.fields.Int(metadata={"description": "Order in the picker (then by cost)."})
    created_at = ma.fields.AwareDateTime()


class GiftSendSchema(ma.Schema):
    id = ma.fields.Int()
    gift = ma.fields.Nested(GiftSchema)
    sender = ma.fields.Nested(GiftUserSchema, allow_none=True)
    receiver = ma.fields.Nested(GiftUserSchema, allow_none=True)
    quantity = ma.fields.Int()
    coins = ma.fields.Int(metadata={"description": "quantity × the gift's cost at the time."})
    combo = ma.fields.Int(
        metadata={"description": "Gifts in the streak so far (same gift, sender, receiver)."}
    )
    animation = ma.fields.Str(metadata={"enum": ANIMATIONS})
    offset_ms = ma.fields.Int(metadata={"description": "Milliseconds from the live's start."})
    at = ma.fields.Str(metadata={"description": "ISO 8601 time it was sent."})


class SendInSchema(ma.Schema):
    receiver_id = ma.fields.Int(required=True, metadata={"description": "The host or a guest on stage."})
    gift_id = ma.fields.Int(required=True)
    quantity = ma.fields.Int(
        load_default=1, validate=ma.validate.Range(min=1, max=gifts.MAX_QUANTITY), strict=True
    )
    idempotency_key = ma.fields.Str(
        required=True,
        metadata={"description": "Chosen by the client for this gift (a uuid); send it again on a retry."},
    )


class SentSchema(ma.Schema):
    gift_send = ma.fields.Nested(GiftSendSchema)
    balance = ma.fields.Int(metadata={"description": "Your coins after the gift."})
    replayed = ma.fields.Bool(metadata={"description": "True: the key had been used; nothing charged."})


class RecentArgs(ma.Schema):
    limit = ma.fields.Int(load_default=gifts.RECENT_LIMIT, validate=ma.validate.Range(min=1, max=200))
    invite = ma.fields.Str(metadata={"description": "The invite token of an invite-only live."})


class WatchArgs(ma.Schema):
    invite = ma.fields.Str(metadata={"description": "The invite token of an invite-only live."})


class TopGifterSchema(ma.Schema):
    user = ma.fields.Nested(GiftUserSchema, allow_none=True)
    coins = ma.fields.Int(metadata={"description": "Coins of gifts sent in this live."})


class GoalSchema(ma.Schema):
    target = ma.fields.Int(allow_none=True, metadata={"description": "Coins; null: no goal set."})
    label = ma.fields.Str()
    progress = ma.fields.Int(metadata={"description": "Coins of gifts received in this live."})


class GoalInSchema(ma.Schema):
    target_coins = ma.fields.Int(
        required=True, strict=True, validate=ma.validate.Range(min=gifts.GOAL_MIN, max=gifts.GOAL_MAX)
    )
    label = ma.fields.Str(
        load_default="",
        validate=ma.validate.Length(max=gifts.GOAL_LABEL_MAX),
        metadata={"description": "Shown on the bar."},
    )


def _gift_fields(required: bool) -> dict:
    """The catalogue's fields: all required to add a gift, any of them to change one."""
    return {
        "name": ma.fields.Str(
            required=required, metadata={"description": f"1 to {gifts.NAME_MAX} characters."}
        ),
        "icon": ma.fields.Str(
            required=required, metadata={"description": "A file of static/img/gifts/ (see `icons`)."}
        ),
        "coins": ma.fields.Int(
            required=required,
            strict=True,
            validate=ma.validate.Range(min=gifts.COINS_MIN, max=gifts.COINS_MAX),
        ),
        "animation": ma.fields.Str(required=required, validate=ma.validate.OneOf(ANIMATIONS)),
        "active": ma.fields.Bool(metadata={"description": "False retires the gift."}),
        "position": ma.fields.Int(strict=True, validate=ma.validate.Range(min=0, max=gifts.POSITION_MAX)),
    }


GiftInSchema = ma.Schema.from_dict(_gift_fields(True), name="GiftInSchema")


class GiftPatchSchema(ma.Schema.from_dict(_gift_fields(False), name="GiftPatchBase")):
    @ma.validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError(_("Send at least one field to change."))


class AdminCatalogueSchema(ma.Schema):
    gifts = ma.fields.List(ma.fields.Nested(AdminGiftSchema))
    icons = ma.fields.List(ma.fields.Str(), metadata={"description": "The icon files to choose from."})


# -- helpers ------------------------------------------------------------------------------
def _watchable(live_id: int, invite: str | None):
    """A live the caller may watch (followers-only and invite-only lives included)."""
    live = lives.get_live(live_id)
    lives.require_watch(live, current_user if current_user.is_authenticated else None, invite)
    room.require_may_join(live, current_user if current_user.is_authenticated else None)
    return live


# -- everyone -----------------------------------------------------------------------------
@bp.route("/gifts")
@bp.response(200, GiftSchema(many=True))
def catalogue():
    """The gifts that can be sent, in the pickers' order."""
    return [gifts.gift_payload(g) for g in gifts.catalogue()]


@bp.route("/lives/<int:live_id>/gifts", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(SendInSchema)
@bp.response(201, SentSchema, description="Sent and charged.")
@bp.alt_response(
    200, schema=SentSchema, description="This key was used already: the first send, nothing charged."
)
@bp.alt_response(402, schema=GiftErrorSchema, description="Not enough coins (`insufficient_funds`).")
@bp.alt_response(
    403, schema=GiftErrorSchema, description="Not allowed: age, gifts turned off, kicked, oneself."
)
@bp.alt_response(
    404, schema=GiftErrorSchema, description="No such live or gift, or the receiver is not on stage."
)
@bp.alt_response(
    409, schema=GiftErrorSchema, description="The live has ended, or the key was used for another gift."
)
def send(data, live_id):
    """Send a gift in a live to its host or a guest on stage, paid with your coins."""
    live = _watchable(live_id, request.args.get("invite"))
    sent = gifts.send_gift(
        live, current_user, data["receiver_id"], data["gift_id"], data["quantity"], data["idempotency_key"]
    )
    body = {
        "gift_send": sent.payload(),
        "balance": ledger.balance(current_user),
        "replayed": not sent.created,
    }
    return body, 201 if sent.created else 200


@bp.route("/lives/<int:live_id>/gifts")
@bp.arguments(RecentArgs, location="query")
@bp.response(200, GiftSendSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def recent(args, live_id):
    """The latest gifts of a live, newest first (whoever may watch it)."""
    live = _watchable(live_id, args.get("invite"))
    return gifts.recent_sends(live, args["limit"])


@bp.route("/lives/<int:live_id>/top-gifters")
@bp.arguments(WatchArgs, location="query")
@bp.response(200, TopGifterSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def top_gifters(args, live_id):
    """Who sent the most coins in gifts in this live (the top ten)."""
    return gifts.top_gifters(_watchable(live_id, args.get("invite")))


@bp.route("/lives/<int:live_id>/goal")
@bp.arguments(WatchArgs, location="query")
@bp.response(200, GoalSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def goal(args, live_id):
    """The LIVE goal bar: its target (null when none is set), label and progress."""
    return gifts.goal_payload(_watchable(live_id, args.get("invite")))


@bp.route("/lives/<int:live_id>/goal", methods=["PUT"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(GoalInSchema)
@bp.response(200, GoalSchema)
@bp.alt_response(403, schema=GiftErrorSchema, description="Not the host (or an admin).")
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=GiftErrorSchema, description="The live has ended.")
def set_goal(data, live_id):
    """Set or change the LIVE goal (the host); every viewer sees the bar at once."""
    return gifts.set_goal(lives.get_live(live_id), current_user, data["target_coins"], data["label"])


@bp.route("/lives/<int:live_id>/goal", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(403, schema=GiftErrorSchema, description="Not the host (or an admin).")
@bp.alt_response(404, schema=ApiErrorSchema)
def clear_goal(live_id):
    """Take the goal bar off every screen (the host)."""
    gifts.clear_goal(lives.get_live(live_id), current_user)


# -- admins ---------------------------------------------------------------------------------
@bp.route("/admin/gifts")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, AdminCatalogueSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def admin_catalogue():
    """Every gift, retired ones too, and the icons to choose from (admins)."""
    require_admin(current_user)
    return {
        "gifts": [gifts.admin_gift_payload(g) for g in gifts.catalogue(include_retired=True)],
        "icons": gifts.available_icons(),
    }


@bp.route("/admin/gifts", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(GiftInSchema)
@bp.response(201, AdminGiftSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def admin_create(data):
    """Add a gift to the catalogue (admins); without a position it goes last."""
    return gifts.admin_gift_payload(gifts.create_gift(current_user, **data))


@bp.route("/admin/gifts/<int:gift_id>", methods=["PATCH"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(GiftPatchSchema)
@bp.response(200, AdminGiftSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=GiftErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def admin_update(data, gift_id):
    """Change a gift (admins); ``active: false`` retires it, ``true`` brings it back."""
    return gifts.admin_gift_payload(gifts.update_gift(current_user, gift_id, **data))

"""Web Push: the server's public key and the caller's subscribed browsers."""

import marshmallow as ma
from flask import request
from flask_babel import get_locale
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, require
from livelite.services import push

bp = Blueprint("api_push", __name__, url_prefix="/api/v1/push", description="Web Push")


class PublicKeySchema(ma.Schema):
    public_key = ma.fields.Str(
        metadata={
            "description": "The VAPID public key: pass it as applicationServerKey to "
            "PushManager.subscribe (base64url, uncompressed P-256 point)."
        }
    )


class SubscriptionKeysSchema(ma.Schema):
    p256dh = ma.fields.Str(required=True, metadata={"description": "base64url, 65 bytes"})
    auth = ma.fields.Str(required=True, metadata={"description": "base64url, 16 bytes"})


class SubscriptionInSchema(ma.Schema):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    endpoint = ma.fields.Str(required=True, metadata={"example": "https://push.example.net/send/abc"})
    expirationTime = ma.fields.Raw(allow_none=True, load_default=None)  # the browser's own (camelCase) name
    keys = ma.fields.Nested(SubscriptionKeysSchema, required=True)


class SubscriptionSchema(ma.Schema):
    id = ma.fields.Int()
    endpoint = ma.fields.Str()
    browser = ma.fields.Str(metadata={"description": "Read from the User-Agent, e.g. “Firefox on Linux”."})
    user_agent = ma.fields.Str()
    created_at = ma.fields.AwareDateTime()
    last_success_at = ma.fields.AwareDateTime(allow_none=True)
    failures = ma.fields.Int(metadata={"description": "Failed deliveries in a row."})


class EndpointArgs(ma.Schema):
    endpoint = ma.fields.Str(required=True)


def subscription_payload(row) -> dict:
    return {
        "id": row.id,
        "endpoint": row.endpoint,
        "browser": push.browser_label(row.user_agent),
        "user_agent": row.user_agent,
        "created_at": row.created_at,
        "last_success_at": row.last_success_at,
        "failures": row.failures,
    }


@bp.route("/vapid-public-key")
@bp.response(200, PublicKeySchema)
def vapid_public_key():
    """The key browsers subscribe with."""
    return {"public_key": push.public_key()}


@bp.route("/subscriptions")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, SubscriptionSchema(many=True))
def list_subscriptions():
    """The caller's subscribed browsers, newest first."""
    return [subscription_payload(row) for row in push.subscriptions_of(current_user)]


@bp.route("/subscriptions", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(SubscriptionInSchema)
@bp.response(201, SubscriptionSchema)
@bp.alt_response(
    400,
    schema=ApiErrorSchema,
    description="Not an https endpoint on a public address (unless the site allows private "
    "endpoints), or keys of the wrong size.",
)
def subscribe(data):
    """Subscribe a browser (the body is ``PushSubscription.toJSON()``).

    Subscribing an endpoint that is already stored refreshes it and moves it to the
    caller. Each new notification is then pushed to it, in the caller's language.
    The endpoint must be https on a host name that resolves to public addresses only
    (as every browser's push service is), unless the site sets
    ``PUSH_ALLOW_PRIVATE_ENDPOINTS``.
    """
    row = push.subscribe(
        current_user,
        data["endpoint"],
        data["keys"]["p256dh"],
        data["keys"]["auth"],
        user_agent=request.headers.get("User-Agent", ""),
        locale=str(get_locale()),
    )
    return subscription_payload(row)


@bp.route("/subscriptions", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(EndpointArgs, location="query")
@bp.response(204)
@bp.alt_response(404, schema=ApiErrorSchema, description="Not one of the caller's browsers.")
def unsubscribe_endpoint(args):
    """Unsubscribe a browser by its endpoint (``?endpoint=…``)."""
    push.unsubscribe(current_user, endpoint=args["endpoint"])


@bp.route("/subscriptions/<int:subscription_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(404, schema=ApiErrorSchema, description="Not one of the caller's browsers.")
def unsubscribe_id(subscription_id):
    """Unsubscribe one of the caller's browsers by id."""
    push.unsubscribe(current_user, subscription_id=subscription_id)

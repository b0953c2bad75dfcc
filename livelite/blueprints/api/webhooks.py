"""Webhooks (admins only): register URLs, test them, read and replay their deliveries.

The payloads, headers and signature are described in docs/webhooks.md.
"""

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, PageArgs, page_payload, require
from livelite.extensions import db
from livelite.models.webhooks import Webhook, WebhookDelivery
from livelite.services import webhooks

bp = Blueprint(
    "api_webhooks",
    __name__,
    url_prefix="/api/v1/admin/webhooks",
    description="Webhooks: signed JSON messages posted to other systems (admins only)",
)

EVENT_CHOICES = ma.validate.OneOf(list(webhooks.EVENTS))


class WebhookSchema(ma.Schema):
    id = ma.fields.Int()
    url = ma.fields.Str()
    description = ma.fields.Str()
    events = ma.fields.List(ma.fields.Str())
    active = ma.fields.Bool()
    secret = ma.fields.Str(metadata={"description": "Signs every delivery (X-LiveLite-Signature)."})
    created_at = ma.fields.DateTime()


class WebhookListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WebhookSchema))


class WebhookCreateSchema(ma.Schema):
    url = ma.fields.Str(required=True, metadata={"description": "http or https, at most 500 characters."})
    events = ma.fields.List(ma.fields.Str(validate=EVENT_CHOICES), required=True)
    description = ma.fields.Str(load_default="")
    active = ma.fields.Bool(load_default=True)


class WebhookUpdateSchema(ma.Schema):
    url = ma.fields.Str()
    events = ma.fields.List(ma.fields.Str(validate=EVENT_CHOICES))
    description = ma.fields.Str()
    active = ma.fields.Bool()


class WebhookDeliverySchema(ma.Schema):
    id = ma.fields.Int()
    webhook_id = ma.fields.Int()
    event = ma.fields.Str()
    status = ma.fields.Str(metadata={"description": "pending, succeeded or failed"})
    attempts = ma.fields.Int()
    last_status_code = ma.fields.Int(allow_none=True)
    last_error = ma.fields.Str(allow_none=True)
    created_at = ma.fields.DateTime()
    next_attempt_at = ma.fields.DateTime(allow_none=True)
    delivered_at = ma.fields.DateTime(allow_none=True)
    payload = ma.fields.Str(metadata={"description": "The exact JSON body posted."})


class WebhookDeliveryPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(WebhookDeliverySchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


def webhook_payload(webhook: Webhook) -> dict:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "description": webhook.description,
        "events": webhook.event_list,
        "active": webhook.active,
        "secret": webhook.secret,
        "created_at": webhook.created_at,
    }


def delivery_payload(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event": delivery.event,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "next_attempt_at": delivery.next_attempt_at,
        "delivered_at": delivery.delivered_at,
        "payload": delivery.payload,
    }


@bp.route("")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, WebhookListSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def list_webhooks():
    """Every webhook, newest first."""
    return {"items": [webhook_payload(w) for w in webhooks.list_webhooks(current_user)]}


@bp.route("", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(WebhookCreateSchema)
@bp.response(201, WebhookSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema, description="A field is invalid.")
def create_webhook(data):
    """Register a webhook; the answer carries its signing secret."""
    return webhook_payload(webhooks.create_webhook(current_user, **data))


@bp.route("/<int:webhook_id>")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, WebhookSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def get_webhook(webhook_id):
    """One webhook."""
    return webhook_payload(webhooks.get_webhook(current_user, webhook_id))


@bp.route("/<int:webhook_id>", methods=["PATCH"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(WebhookUpdateSchema)
@bp.response(200, WebhookSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema, description="A field is invalid.")
def update_webhook(data, webhook_id):
    """Change the URL, events, description or whether it is on."""
    return webhook_payload(webhooks.update_webhook(current_user, webhook_id, **data))


@bp.route("/<int:webhook_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def delete_webhook(webhook_id):
    """Delete a webhook and its delivery log."""
    webhooks.delete_webhook(current_user, webhook_id)


@bp.route("/<int:webhook_id>/secret", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, WebhookSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def rotate_secret(webhook_id):
    """Replace the signing secret (used from the next attempt on)."""
    return webhook_payload(webhooks.rotate_secret(current_user, webhook_id))


@bp.route("/<int:webhook_id>/test", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(202, WebhookDeliverySchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def test_webhook(webhook_id):
    """Queue a ``ping`` event to this webhook only."""
    return delivery_payload(webhooks.send_test(current_user, webhook_id))


@bp.route("/<int:webhook_id>/deliveries")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(PageArgs, location="query")
@bp.response(200, WebhookDeliveryPageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def deliveries(args, webhook_id):
    """The webhook's deliveries, newest first."""
    webhook = webhooks.get_webhook(current_user, webhook_id)
    page = db.paginate(
        webhooks.deliveries_query(current_user, webhook),
        page=args["page"],
        per_page=args["per_page"],
        error_out=False,
    )
    return page_payload(page, delivery_payload)


@bp.route("/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(202, WebhookDeliverySchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def redeliver(delivery_id):
    """Send a delivery's body again, as a new delivery (same event id)."""
    return delivery_payload(webhooks.redeliver(current_user, delivery_id))

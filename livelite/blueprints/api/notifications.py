"""Your notifications."""

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, require
from livelite.blueprints.notifications.routes import target_url
from livelite.services import notifications

bp = Blueprint("api_notifications", __name__, url_prefix="/api/v1/notifications", description="Notifications")


class NotificationSchema(ma.Schema):
    id = ma.fields.Int()
    kind = ma.fields.Str(metadata={"enum": list(notifications.KINDS)})
    text = ma.fields.Str(metadata={"description": "The sentence, in the caller's language."})
    url = ma.fields.Str()
    created_at = ma.fields.AwareDateTime()
    read = ma.fields.Bool()


class NotificationListSchema(ma.Schema):
    unread = ma.fields.Int()
    items = ma.fields.List(ma.fields.Nested(NotificationSchema))


class MarkReadSchema(ma.Schema):
    ids = ma.fields.List(ma.fields.Int(), load_default=None, metadata={"description": "Omit to mark all."})


def _list() -> dict:
    return {
        "unread": notifications.unread_count_of(current_user.id),
        "items": [
            {
                "id": row.id,
                "kind": row.kind,
                "text": notifications.describe(row),
                "url": target_url(row),
                "created_at": row.created_at,
                "read": row.read_at is not None,
            }
            for row in notifications.latest(current_user)
        ],
    }


@bp.route("")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, NotificationListSchema)
def list_notifications():
    """The latest 50 notifications and the unread count."""
    return _list()


@bp.route("/read", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(MarkReadSchema)
@bp.response(200, NotificationListSchema)
def mark_read(data):
    """Mark some (``ids``) or all notifications read."""
    notifications.mark_read(current_user, data["ids"])
    return _list()

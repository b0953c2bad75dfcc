"""For You as data: the same lives and videos, in the same order, as the page."""

import marshmallow as ma
from flask import current_app
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.lives import LiveSchema, live_payload
from livelite.blueprints.api.videos import VideoSchema, video_payload
from livelite.services import discovery

bp = Blueprint("api_feed", __name__, url_prefix="/api/v1", description="For You feed")


class FeedArgs(ma.Schema):
    page = ma.fields.Int(load_default=1, validate=ma.validate.Range(min=1, max=10_000))


class FeedItemSchema(ma.Schema):
    kind = ma.fields.Str(metadata={"enum": ["live", "video"]})
    live = ma.fields.Nested(LiveSchema, allow_none=True)
    video = ma.fields.Nested(VideoSchema, allow_none=True)


class FeedPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(FeedItemSchema))
    page = ma.fields.Int()
    has_next = ma.fields.Bool()


@bp.route("/feed")
@bp.arguments(FeedArgs, location="query")
@bp.response(200, FeedPageSchema)
def feed(args):
    """One page of For You: lives happening now (followed hosts first, then by viewers)
    interleaved with short videos (followed creators first, then newest). Anonymous
    callers get the public feed; with a session or token, the person's own."""
    viewer = current_user if current_user.is_authenticated else None
    presence = current_app.extensions["livelite.presence"]
    page = discovery.for_you(viewer, args["page"], presence.count)
    return {
        "items": [
            {
                "kind": item.kind,
                "live": live_payload(item.live) if item.live else None,
                "video": video_payload(item.video) if item.video else None,
            }
            for item in page.items
        ],
        "page": page.page,
        "has_next": page.has_next,
    }

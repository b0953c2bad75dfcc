"""Analytics: a live's figures and series (host, admins), the caller's lives, the site
per day (admins). What each figure counts: services/analytics.py."""

import marshmallow as ma
from flask import url_for
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, PageArgs, require
from livelite.services import analytics, lives

bp = Blueprint("api_analytics", __name__, url_prefix="/api/v1", description="Analytics")


class LiveSummarySchema(ma.Schema):
    live_id = ma.fields.Int()
    title = ma.fields.Str()
    status = ma.fields.Str(metadata={"enum": ["scheduled", "live", "ended"]})
    started_at = ma.fields.AwareDateTime(allow_none=True)
    ended_at = ma.fields.AwareDateTime(allow_none=True)
    duration_s = ma.fields.Int(metadata={"description": "Until now while it is on."})
    has_samples = ma.fields.Bool(metadata={"description": "Whether viewers were ever sampled."})
    peak_viewers = ma.fields.Int()
    unique_viewers = ma.fields.Int()
    diamonds = ma.fields.Int()
    url = ma.fields.Str(metadata={"description": "The analytics page."})


class ViewerPointSchema(ma.Schema):
    t = ma.fields.Int(metadata={"description": "Seconds since the live started."})
    viewers = ma.fields.Int()


class LiveSeriesSchema(ma.Schema):
    viewers = ma.fields.List(ma.fields.Nested(ViewerPointSchema))
    chat_per_minute = ma.fields.List(
        ma.fields.Int(), metadata={"description": "Index = minute from the start."}
    )
    likes_per_minute = ma.fields.List(ma.fields.Int())
    diamonds_per_minute = ma.fields.List(ma.fields.Int())


class LiveAnalyticsSchema(LiveSummarySchema):
    average_viewers = ma.fields.Float(metadata={"description": "Time-weighted over the samples."})
    signed_in_viewers = ma.fields.Int()
    visitors = ma.fields.Int()
    watch_seconds = ma.fields.Int(metadata={"description": "Everyone's time present, summed."})
    new_followers = ma.fields.Int(metadata={"description": "Follows of the host between start and end."})
    gifts = ma.fields.Int()
    coins = ma.fields.Int()
    likes = ma.fields.Int()
    chat_messages = ma.fields.Int(metadata={"description": "All sent, removed ones included."})
    chat_removed = ma.fields.Int()
    questions_asked = ma.fields.Int()
    questions_answered = ma.fields.Int()
    series = ma.fields.Nested(LiveSeriesSchema)


class LiveSummaryPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(LiveSummarySchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class SiteDaysArgs(ma.Schema):
    days = ma.fields.Int(load_default=30, validate=ma.validate.Range(min=1, max=analytics.MAX_DAYS))


class SiteDaysSchema(ma.Schema):
    days = ma.fields.List(ma.fields.Str(), metadata={"description": "UTC days, oldest first (YYYY-MM-DD)."})
    lives = ma.fields.List(ma.fields.Int(), metadata={"description": "Lives started that day."})
    peak_viewers = ma.fields.List(
        ma.fields.Int(), metadata={"description": "Most viewers of all lives at once."}
    )
    hours_watched = ma.fields.List(ma.fields.Float())
    new_people = ma.fields.List(ma.fields.Int())
    diamonds = ma.fields.List(ma.fields.Int())


def _with_url(row: dict) -> dict:
    return {**row, "url": url_for("analytics.live", live_id=row["live_id"], _external=True)}


@bp.route("/lives/<int:live_id>/analytics")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, LiveAnalyticsSchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="Not the host or an admin.")
@bp.alt_response(404, schema=ApiErrorSchema)
def live_analytics(live_id):
    """A live's figures and per-minute series (its host and admins)."""
    live = lives.get_live(live_id)
    analytics.require_analytics(live, current_user)
    return _with_url(analytics.live_figures(live))


@bp.route("/me/analytics")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(PageArgs, location="query")
@bp.response(200, LiveSummaryPageSchema)
def my_analytics(args):
    """Your lives that started, newest first, with their main figures."""
    page = analytics.lives_of(current_user, page=args["page"], per_page=args["per_page"])
    return {
        "items": [_with_url(row) for row in analytics.summaries(page.items)],
        "page": page.page,
        "pages": page.pages,
        "total": page.total,
    }


@bp.route("/admin/analytics")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(SiteDaysArgs, location="query")
@bp.response(200, SiteDaysSchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="Not an admin.")
def site_analytics(args):
    """The site per UTC day over the last ``days`` (admins)."""
    return analytics.site_days(current_user, args["days"])

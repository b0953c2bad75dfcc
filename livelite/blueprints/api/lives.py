"""Lives: what is live now, one live, starting and ending, stream health, stream keys."""

import marshmallow as ma
from flask import current_app, request, url_for
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, UserSchema, require, user_payload
from livelite.extensions import db
from livelite.models import Visibility
from livelite.services import lives

bp = Blueprint("api_lives", __name__, url_prefix="/api/v1", description="Lives")


class FeedSchema(ma.Schema):
    id = ma.fields.Int()
    username = ma.fields.Str()
    source = ma.fields.Str(metadata={"enum": ["browser", "rtmp"]})
    video_codec = ma.fields.Str(allow_none=True)
    active = ma.fields.Bool()
    playlist_url = ma.fields.Str()


class LiveSchema(ma.Schema):
    id = ma.fields.Int()
    title = ma.fields.Str()
    status = ma.fields.Str(metadata={"enum": ["scheduled", "live", "ended"]})
    visibility = ma.fields.Str(metadata={"enum": ["public", "followers", "invite"]})
    host = ma.fields.Nested(UserSchema)
    started_at = ma.fields.AwareDateTime(allow_none=True)
    ended_at = ma.fields.AwareDateTime(allow_none=True)
    end_reason = ma.fields.Str(allow_none=True)
    watch_url = ma.fields.Str()
    hls_url = ma.fields.Str(allow_none=True, metadata={"description": "The host's playlist (HLS)."})
    preview_url = ma.fields.Str(allow_none=True)
    viewer_count = ma.fields.Int(allow_none=True)
    feeds = ma.fields.List(ma.fields.Nested(FeedSchema))
    invite_token = ma.fields.Str(metadata={"description": "Only for the host."})
    invite_code = ma.fields.Str(
        metadata={"description": "Only for the host of an invite-only live: XXXX-XXXX, typed at /join."}
    )
    group_id = ma.fields.Int(
        allow_none=True, metadata={"description": "Only for the host: the group whose members may watch."}
    )


class StartLiveSchema(ma.Schema):
    title = ma.fields.Str(required=True)
    visibility = ma.fields.Str(
        load_default="public", validate=ma.validate.OneOf([v.value for v in Visibility])
    )
    start = ma.fields.Bool(
        load_default=True, metadata={"description": "false: create it scheduled, start it later with /start."}
    )
    group_id = ma.fields.Int(
        load_default=None,
        allow_none=True,
        metadata={"description": "Invite-only lives: one of your groups (/groups), whose members may watch."},
    )


class HealthSchema(ma.Schema):
    feed_id = ma.fields.Int()
    running = ma.fields.Bool()
    input_bitrate_kbps = ma.fields.Float()
    output_fps = ma.fields.Float()
    output_bitrate_kbps = ma.fields.Float()
    keyframe_interval_s = ma.fields.Float(allow_none=True)
    media_seconds = ma.fields.Float()
    lag_seconds = ma.fields.Float(allow_none=True)
    speed = ma.fields.Float(allow_none=True)
    restarts = ma.fields.Int()


class StreamKeySchema(ma.Schema):
    key = ma.fields.Str()
    server_url = ma.fields.Str()


def live_payload(live, invite=None) -> dict:
    viewer = current_user if current_user.is_authenticated else None
    realtime = current_app.extensions.get("livelite.presence")
    data = {
        "id": live.id,
        "title": live.title,
        "status": live.status.value,
        "visibility": live.visibility.value,
        "host": user_payload(live.host, viewer),
        "started_at": live.started_at,
        "ended_at": live.ended_at,
        "end_reason": live.end_reason,
        "watch_url": url_for("lives.watch", live_id=live.id, invite=invite, _external=True),
        "hls_url": (
            url_for(
                "lives.playlist", live_id=live.id, feed_id=live.main_feed.id, invite=invite, _external=True
            )
            if live.main_feed
            else None
        ),
        "preview_url": url_for("lives.preview", live_id=live.id, invite=invite)
        if live.preview_path
        else None,
        "viewer_count": realtime.count(live.id) if realtime else None,
        "feeds": [
            {
                "id": feed.id,
                "username": feed.user.username,
                "source": feed.source.value,
                "video_codec": feed.video_codec,
                "active": feed.active,
                "playlist_url": url_for("lives.playlist", live_id=live.id, feed_id=feed.id, invite=invite),
            }
            for feed in live.feeds
        ],
    }
    if viewer is not None and (viewer.id == live.host_id or viewer.is_admin):
        data["invite_token"] = live.invite_token
        data["group_id"] = live.group_id
        if live.visibility == Visibility.INVITE:
            from livelite.services import classes

            data["invite_code"] = classes.format_code(live.invite_code)
    return data


@bp.route("/lives")
@bp.response(200, LiveSchema(many=True))
def list_lives():
    """Lives happening now that the caller may watch."""
    viewer = current_user if current_user.is_authenticated else None
    return [live_payload(live) for live in lives.current_lives() if lives.can_watch(live, viewer)]


@bp.route("/lives", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(StartLiveSchema)
@bp.response(201, LiveSchema)
@bp.alt_response(
    403, schema=ApiErrorSchema, description="May not go live (age, followers), with the reasons."
)
@bp.alt_response(409, schema=ApiErrorSchema, description="Already live, site full, or disk short.")
def start_live(data):
    """Create a live and, unless ``start`` is false, start it now. The publisher then
    sends media over Socket.IO (/publish) or RTMP."""
    if not data["start"]:
        return live_payload(
            lives.create_live(
                current_user, title=data["title"], visibility=data["visibility"], group_id=data["group_id"]
            )
        )
    live = lives.start_live(
        current_user, title=data["title"], visibility=data["visibility"], group_id=data["group_id"]
    )
    current_app.extensions["livelite.media"].notify("live_started", live.id, {})
    return live_payload(live)


@bp.route("/lives/<int:live_id>/start", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, LiveSchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="Not the host, or may not go live (with reasons).")
@bp.alt_response(
    409, schema=ApiErrorSchema, description="Already started, already live, site full, disk short."
)
def begin_live(live_id):
    """Start a live created with ``start: false``."""
    live = lives.begin_live(lives.get_live(live_id), current_user)
    current_app.extensions["livelite.media"].notify("live_started", live.id, {})
    return live_payload(live)


@bp.route("/lives/<int:live_id>")
@bp.response(200, LiveSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def get_live(live_id):
    """One live (status, feeds, viewer count). Invite-only lives need ``?invite=``."""
    live = lives.get_live(live_id)
    invite = request.args.get("invite")
    lives.require_watch(live, current_user if current_user.is_authenticated else None, invite)
    return live_payload(live, invite)


@bp.route("/lives/<int:live_id>/end", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, LiveSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def end_live(live_id):
    """End the live (host or admin). Recording stops and the files are finished."""
    live = lives.get_live(live_id)
    lives.require_host(live, current_user)
    reason = "host" if current_user.id == live.host_id else "admin"
    current_app.extensions["livelite.media"].end_live(live.id, reason)
    # The media manager ends the live in a session of its own: read it afresh.
    db.session.expire_all()
    return live_payload(lives.get_live(live_id))


@bp.route("/lives/<int:live_id>/health")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, HealthSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
def health(live_id):
    """Stream health per feed: bitrates, frame rate, keyframe interval, lag (host and admins)."""
    live = lives.get_live(live_id)
    lives.require_host(live, current_user)
    media = current_app.extensions["livelite.media"]
    out = []
    for feed in live.feeds:
        figures = media.health(feed.id)
        out.append({"feed_id": feed.id, "running": figures is not None, **(figures or {})})
    return out


def _stream_key_payload(row) -> dict:
    host = current_app.config.get("RTMP_PUBLIC_HOST") or request.host.split(":")[0]
    return {"key": row.key, "server_url": f"rtmp://{host}:{current_app.config['RTMP_PORT']}/live"}


@bp.route("/me/stream-key")
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, StreamKeySchema)
def get_stream_key():
    """Your RTMP server URL and stream key (needs the write scope: it lets one stream as you)."""
    return _stream_key_payload(lives.stream_key(current_user))


@bp.route("/me/stream-key", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, StreamKeySchema)
def rotate_stream_key():
    """Replace your stream key; the old one stops working at once."""
    return _stream_key_payload(lives.rotate_stream_key(current_user))

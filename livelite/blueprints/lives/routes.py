"""Watching a live, its HLS files and preview, and the stream-key settings page."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from urllib.parse import quote

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from livelite.blueprints.lives import bp
from livelite.blueprints.media_files.sending import MEDIA_NAME_RE, PLAYLIST_TYPE
from livelite.blueprints.media_files.sending import send_media as _send_media
from livelite.extensions import limiter
from livelite.forms import Form
from livelite.media import hls
from livelite.models import LiveStatus
from livelite.models.base import utcnow
from livelite.services import lives, policy, replays, room

# After the end, people who were watching still get the last seconds for this long.
ENDED_GRACE = timedelta(minutes=2)


def _viewer():
    return current_user if current_user.is_authenticated else None


def _watchable(live_id: int):
    """The live if this person may watch it: the visibility rule, and not kicked from
    it or banned by its host (the page, the playlist and every segment check both)."""
    live = lives.get_live(live_id)
    lives.require_watch(live, _viewer(), request.args.get("invite"))
    room.require_may_join(live, _viewer())
    return live


def _viewable_replay(live):
    """The ended live's replay if this person may watch it, else None."""
    replay = replays.replay_of_live(live)
    return replay if replay is not None and replays.can_view(replay, _viewer()) else None


def _in_grace(live) -> bool:
    return live.ended_at is not None and utcnow() - live.ended_at <= ENDED_GRACE


def _recording_watchable(live_id: int):
    """The live whose playlist or segments are asked for. Once it has ended its
    recording is the replay's, and a private replay must not be reachable here: only
    people who may watch the replay (services.replays.can_view), or, for ENDED_GRACE
    after the end, people who could watch the live, so the last seconds still play.
    Anyone else: 404, as the replay's own routes answer."""
    live = lives.get_live(live_id)
    if live.status != LiveStatus.ENDED:
        return _watchable(live_id)
    if _viewable_replay(live) is not None:
        return live
    if _in_grace(live):
        return _watchable(live_id)
    abort(404)


@bp.route("/lives/<int:live_id>")
def watch(live_id: int):
    """The viewer page: hls.js player, live badge, viewer count, ended state."""
    live = _watchable(live_id)
    if not current_user.is_authenticated:
        # Kept in the cookie so that every tab of this browser counts as one viewer:
        # a Socket.IO connection only reads the session (lives/events.py).
        session.setdefault("visitor_id", uuid.uuid4().hex)
    # Once it has ended: a link to its replay for those who may watch it, and its
    # recording only for them (or, just after the end, for everyone who was watching).
    replay = _viewable_replay(live) if live.status == LiveStatus.ENDED else None
    playable = live.status != LiveStatus.ENDED or replay is not None or _in_grace(live)
    return render_template(
        "lives/watch.html", live=live, invite=request.args.get("invite"), replay=replay, playable=playable
    )


@bp.route("/lives/<int:live_id>/feeds/<int:feed_id>/index.m3u8")
@limiter.exempt
def playlist(live_id: int, feed_id: int):
    """The feed's playlist, assembled from its ffmpeg runs; never cached."""
    live = _recording_watchable(live_id)
    feed = lives.get_feed(live, feed_id)
    # Through the storage, as the segments are: a folder that leaves the media root
    # (a link placed there) is no feed of ours.
    storage = current_app.extensions["livelite.storage"]
    folder = storage.served_path(feed.media_dir) if feed.media_dir else None
    if folder is None:
        abort(404)
    ended = not (live.is_live and feed.active)
    body = hls.compose(folder, ended=ended, window=current_app.config["LIVE_PLAYLIST_SEGMENTS"])
    invite = request.args.get("invite")
    if invite:
        # Every file request is checked too, so the token rides along on each URI;
        # quoted, so that no value (a public live takes any) can add lines to the playlist.
        invite = quote(invite, safe="")
        body = re.sub(r'^(run-[^\s"]+)$', lambda m: f"{m.group(1)}?invite={invite}", body, flags=re.M)
        body = re.sub(r'URI="(run-[^"]+)"', lambda m: f'URI="{m.group(1)}?invite={invite}"', body)
    response = make_response(body)
    response.headers["Content-Type"] = PLAYLIST_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/lives/<int:live_id>/feeds/<int:feed_id>/<name>")
@limiter.exempt
def media_file(live_id: int, feed_id: int, name: str):
    """Init and media segments: immutable once written, Range supported."""
    if not MEDIA_NAME_RE.match(name):
        abort(404)
    live = _recording_watchable(live_id)
    feed = lives.get_feed(live, feed_id)
    relative = f"{feed.media_dir}/{name}"
    mimetype = "video/mp4" if name.endswith(".mp4") else "video/iso.segment"
    return _send_media(relative, mimetype, "public, max-age=31536000, immutable")


@bp.route("/lives/<int:live_id>/preview.jpg")
@limiter.exempt
def preview(live_id: int):
    live = _watchable(live_id)
    if not live.preview_path:
        abort(404)
    return _send_media(live.preview_path, "image/jpeg", "no-cache")


@bp.route("/settings/stream", methods=["GET"])
@login_required
def stream_settings():
    """Server URL and stream key for OBS (reveal, copy, rotate) and recommended settings."""
    key = lives.stream_key(current_user)
    host = current_app.config.get("RTMP_PUBLIC_HOST") or request.host.split(":")[0]
    server_url = f"rtmp://{host}:{current_app.config['RTMP_PORT']}/live"
    return render_template(
        "lives/stream_settings.html",
        key=key.key,
        server_url=server_url,
        decision=policy.may_go_live(current_user),
        form=Form(),
    )


@bp.route("/settings/stream/rotate", methods=["POST"])
@login_required
def rotate_key():
    if Form().validate_on_submit():
        lives.rotate_stream_key(current_user)
        flash(_("Your stream key was replaced. Update it in OBS."), "success")
    return redirect(url_for("lives.stream_settings"))

"""The replay player: the page, its HLS playlist and files, the chat and Q&A time line.

Every route answers 404 to anyone who may not watch the replay (services.replays.
get_visible), never 403: a private replay is not said to exist. The recording is the
ingest's HLS folder served as a VOD playlist; the side-by-side MP4 and the thumbnail
are in the replay's own folder.
"""

from __future__ import annotations

from flask import abort, jsonify, make_response, render_template
from flask_login import current_user

from livelite.blueprints.media_files.sending import MEDIA_NAME_RE, PLAYLIST_TYPE, send_media
from livelite.blueprints.replays import bp
from livelite.extensions import limiter
from livelite.media import hls
from livelite.models import FileStatus, ReplayVisibility
from livelite.services import replays


def _viewer():
    return current_user if current_user.is_authenticated else None


def _visible(replay_id: int):
    return replays.get_visible(replay_id, _viewer())


def _cache(replay, seconds: int) -> str:
    """Public replays may sit in shared caches, briefly: a replay made private (or
    deleted) must soon be gone from them too. The others only in the viewer's own
    browser."""
    scope = "public" if replay.visibility == ReplayVisibility.PUBLIC else "private"
    return f"{scope}, max-age={seconds}"


@bp.route("/replays/<int:replay_id>")
def show(replay_id: int):
    """The player: the main feed (or a guest's), the chat and questions replayed on the
    time line, the answered questions as chapters."""
    replay = _visible(replay_id)
    feeds = sorted(replay.feeds, key=lambda feed: (not feed.is_main, feed.id))
    return render_template(
        "replays/show.html",
        replay=replay,
        feeds=feeds,
        main=replay.main_feed,
        composed_ready=replay.composed_status == FileStatus.READY and bool(replay.composed_path),
        can_manage=replays.can_manage(replay, _viewer()),
        clock=replays.clock,
    )


@bp.route("/replays/<int:replay_id>/timeline.json")
@limiter.exempt
def timeline(replay_id: int):
    """The chat and Q&A placed on the replay's time line (services.replays.timeline_payload)."""
    replay = _visible(replay_id)
    response = jsonify(replays.timeline_payload(replay))
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.route("/replays/<int:replay_id>/feeds/<int:replay_feed_id>/index.m3u8")
@limiter.exempt
def playlist(replay_id: int, replay_feed_id: int):
    """One feed's recording as a VOD playlist (every run, ENDLIST)."""
    replay = _visible(replay_id)
    feed = replays.get_feed(replay, replay_feed_id)
    folder = replays.storage().served_path(feed.media_dir)
    if folder is None or not folder.is_dir():
        abort(404)
    response = make_response(hls.compose(folder, ended=True))
    response.headers["Content-Type"] = PLAYLIST_TYPE
    response.headers["Cache-Control"] = _cache(replay, 60)
    return response


@bp.route("/replays/<int:replay_id>/feeds/<int:replay_feed_id>/<name>")
@limiter.exempt
def media_file(replay_id: int, replay_feed_id: int, name: str):
    """Init and media segments of a feed's recording (Range supported)."""
    if not MEDIA_NAME_RE.match(name):
        abort(404)
    replay = _visible(replay_id)
    feed = replays.get_feed(replay, replay_feed_id)
    mimetype = "video/mp4" if name.endswith(".mp4") else "video/iso.segment"
    return send_media(f"{feed.media_dir}/{name}", mimetype, _cache(replay, 300))


@bp.route("/replays/<int:replay_id>/thumb.jpg")
@limiter.exempt
def thumbnail(replay_id: int):
    """The frame the lists and the player's poster show."""
    replay = _visible(replay_id)
    if not replay.thumbnail_path:
        abort(404)
    return send_media(replay.thumbnail_path, "image/jpeg", _cache(replay, 300))


@bp.route("/replays/<int:replay_id>/composed.mp4")
@limiter.exempt
def composed(replay_id: int):
    """The host and guests side by side, once it is made (Range supported)."""
    replay = _visible(replay_id)
    if replay.composed_status != FileStatus.READY or not replay.composed_path:
        abort(404)
    return send_media(replay.composed_path, "video/mp4", _cache(replay, 300))

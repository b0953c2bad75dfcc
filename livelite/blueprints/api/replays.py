"""Replays of lives: lists, one replay with its files, changes, deletion, the chat and
Q&A time line, posting to the feed, and storage figures (services.replays).

Who sees what is the service's rule: a replay the caller may not watch is a 404, never
a 403, so nobody learns it exists. Its owner and admins manage it (change, delete,
retry, download); only its owner posts it to the feed.

Downloads are the web routes ``/replays/{id}/download/...``: they take the browser
session only (personal access tokens are read on /api/ paths), so an API client gets
their URLs here and needs a logged-in session to fetch them.
"""

from __future__ import annotations

import marshmallow as ma
from flask import url_for
from flask_babel import gettext as _
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
from livelite.blueprints.api.room import MessageSchema, QuestionSchema
from livelite.blueprints.api.videos import VideoSchema, video_payload
from livelite.models import FileStatus, ReplayVisibility
from livelite.services import accounts, admin, replays

bp = Blueprint("api_replays", __name__, url_prefix="/api/v1", description="Replays of lives")

FILE_STATUSES = [s.value for s in FileStatus]
VISIBILITIES = [v.value for v in ReplayVisibility]
SESSION_ONLY = (
    " Fetched with the browser session (a personal access token is not accepted there); "
    "null unless the caller manages the replay and the file is ready."
)


# -- schemas ------------------------------------------------------------------------------
class ReplayFileSchema(ma.Schema):
    status = ma.fields.Str(
        metadata={
            "enum": FILE_STATUSES,
            "description": "none: not made for this replay (the side-by-side MP4 of a live without guests); "
            "pending: queued; processing: being made (see progress); ready; failed (see error, then retry).",
        }
    )
    progress = ma.fields.Int(metadata={"description": "Percent (100 once ready)."})
    size_bytes = ma.fields.Int(allow_none=True, metadata={"description": "Once ready."})
    error = ma.fields.Str(allow_none=True, metadata={"description": "Why it failed; null otherwise."})
    download_url = ma.fields.Str(
        allow_none=True,
        metadata={"description": "The MP4 as an attachment (Range supported)." + SESSION_ONLY},
    )


class ComposedFileSchema(ReplayFileSchema):
    watch_url = ma.fields.Str(
        allow_none=True,
        metadata={
            "description": "The MP4 to play inline, for whoever may watch the replay; null until ready."
        },
    )


class ReplayFeedSchema(ma.Schema):
    id = ma.fields.Int()
    user = ma.fields.Nested(UserSchema, metadata={"description": "Whose camera: the host or a guest."})
    is_main = ma.fields.Bool(metadata={"description": "The host's feed, the one the player shows first."})
    offset_s = ma.fields.Float(
        metadata={"description": "Seconds after the main feed's start at which this feed starts."}
    )
    duration_s = ma.fields.Float()
    playlist_url = ma.fields.Str(metadata={"description": "HLS VOD playlist (fMP4, H.264/AAC)."})
    mp4 = ma.fields.Nested(ReplayFileSchema, metadata={"description": "This feed's MP4 for download."})


class ReplaySchema(ma.Schema):
    id = ma.fields.Int()
    live_id = ma.fields.Int()
    title = ma.fields.Str()
    visibility = ma.fields.Str(
        metadata={
            "enum": VISIBILITIES,
            "description": "private (the default): its owner and admins; followers: also the owner's "
            "followers; public: anyone.",
        }
    )
    owner = ma.fields.Nested(UserSchema)
    created_at = ma.fields.AwareDateTime(metadata={"description": "When the live ended."})
    expires_at = ma.fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When the retention job deletes it with its files (videos posted from it "
            "stay); null: kept until deleted."
        },
    )
    duration_s = ma.fields.Float(metadata={"description": "The main feed's duration."})
    size_bytes = ma.fields.Int(metadata={"description": "Every file it keeps: recording, MP4s, thumbnail."})
    thumbnail_url = ma.fields.Str(allow_none=True)
    player_url = ma.fields.Str(metadata={"description": "The page that plays it with its chat and Q&A."})
    feeds = ma.fields.List(
        ma.fields.Nested(ReplayFeedSchema), metadata={"description": "The main feed first."}
    )
    composed = ma.fields.Nested(
        ComposedFileSchema,
        metadata={"description": "The host and guests side by side in one MP4 (lives with guests)."},
    )
    can_manage = ma.fields.Bool(
        metadata={"description": "Whether the caller may change, delete, retry and download it."}
    )


class ReplayPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ReplaySchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class VisibleReplaysArgs(ma.Schema):
    limit = ma.fields.Int(load_default=30, validate=ma.validate.Range(min=1, max=100))


class ReplayPatchSchema(ma.Schema):
    title = ma.fields.Str(metadata={"description": "1 to 100 characters."})
    visibility = ma.fields.Str(metadata={"enum": VISIBILITIES})


class Seconds(ma.fields.Field):
    """A time in the replay: a number of seconds, or a clock text ("1:05", "1:02:05")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ma.ValidationError(_("Enter a time like 1:05 or a number of seconds."))
        return value


TIME_DOC = {"oneOf": [{"type": "number", "minimum": 0}, {"type": "string", "example": "1:05"}]}


class PostReplayInSchema(ma.Schema):
    title = ma.fields.Str(
        load_default="",
        metadata={"description": "The video's title (100 characters at most); default the replay's."},
    )
    caption = ma.fields.Str(load_default="")
    trim_start = Seconds(
        load_default=None,
        allow_none=True,
        metadata={
            **TIME_DOC,
            "description": "Where the video starts, in seconds or m:ss; default the start.",
        },
    )
    trim_end = Seconds(
        load_default=None,
        allow_none=True,
        metadata={**TIME_DOC, "description": "Where it ends, in seconds or m:ss; default the end."},
    )
    composed = ma.fields.Bool(
        load_default=False,
        metadata={"description": "Post the side-by-side MP4 (host and guests) instead of the host's feed."},
    )


class PostedVideoSchema(VideoSchema):
    title = ma.fields.Str(allow_none=True)
    replay_id = ma.fields.Int(allow_none=True, metadata={"description": "null once the replay is deleted."})
    trim_start_s = ma.fields.Float(
        allow_none=True, metadata={"description": "The part of the replay kept; null: all of it."}
    )
    trim_end_s = ma.fields.Float(allow_none=True)


class ReplayMessageSchema(MessageSchema):
    t = ma.fields.Int(metadata={"description": "Milliseconds into the replay."})


class ReplayQuestionSchema(QuestionSchema):
    t = ma.fields.Int(metadata={"description": "When it was asked, in milliseconds into the replay."})
    answered_t = ma.fields.Int(
        allow_none=True,
        metadata={"description": "When it was answered (ms into the replay); null: not answered."},
    )


class ChapterSchema(ma.Schema):
    t = ma.fields.Int(metadata={"description": "Milliseconds into the replay."})
    question_id = ma.fields.Int()
    title = ma.fields.Str(metadata={"description": "The question's text."})


class TimelineSchema(ma.Schema):
    duration_ms = ma.fields.Int()
    chat = ma.fields.List(
        ma.fields.Nested(ReplayMessageSchema),
        metadata={"description": "In the order they were sent; messages removed by moderators are left out."},
    )
    questions = ma.fields.List(
        ma.fields.Nested(ReplayQuestionSchema), metadata={"description": "Dismissed questions are left out."}
    )
    chapters = ma.fields.List(
        ma.fields.Nested(ChapterSchema),
        metadata={"description": "The answered questions, in the order answered."},
    )


class UsageSchema(ma.Schema):
    replays_bytes = ma.fields.Int()
    videos_bytes = ma.fields.Int()
    total_bytes = ma.fields.Int()
    quota_bytes = ma.fields.Int(allow_none=True, metadata={"description": "null: no limit."})
    percent = ma.fields.Int(allow_none=True, metadata={"description": "Of the quota, 0–100; null: no limit."})
    over = ma.fields.Bool(
        metadata={
            "description": "The quota is used up: no going live or uploading until something is deleted."
        }
    )


class StoragePersonSchema(ma.Schema):
    user = ma.fields.Nested(UserSchema)
    replays = ma.fields.Int(metadata={"description": "How many replays (not deleted)."})
    replays_bytes = ma.fields.Int()
    videos_bytes = ma.fields.Int()
    total_bytes = ma.fields.Int()
    percent = ma.fields.Int(allow_none=True, metadata={"description": "Of the quota; null: no limit."})


class SiteStorageSchema(ma.Schema):
    replays = ma.fields.Int()
    replays_bytes = ma.fields.Int()
    videos_bytes = ma.fields.Int()
    total_bytes = ma.fields.Int()
    disk_total_bytes = ma.fields.Int(metadata={"description": "The disk holding the media folder."})
    disk_free_bytes = ma.fields.Int()
    quota_bytes = ma.fields.Int(allow_none=True, metadata={"description": "Per person; null: no limit."})
    people = ma.fields.List(
        ma.fields.Nested(StoragePersonSchema), metadata={"description": "Most bytes first."}
    )


class SiteStorageArgs(ma.Schema):
    limit = ma.fields.Int(load_default=20, validate=ma.validate.Range(min=1, max=100))


# -- payloads ------------------------------------------------------------------------------
def _viewer():
    return current_user if current_user.is_authenticated else None


def _file(status: FileStatus, progress: int, size: int | None, error: str | None, download_url) -> dict:
    """A made-in-the-background MP4; ``download_url`` is None for who may not download."""
    ready = status == FileStatus.READY
    return {
        "status": status.value,
        "progress": progress,
        "size_bytes": size if ready else None,
        "error": replays.failure_message(error) if status == FileStatus.FAILED else None,
        "download_url": download_url if ready else None,
    }


def _feed_payload(replay, feed, viewer, manages: bool) -> dict:
    download = (
        url_for("replays.download", replay_id=replay.id, replay_feed_id=feed.id, _external=True)
        if manages
        else None
    )
    return {
        "id": feed.id,
        "user": user_payload(feed.user, viewer),
        "is_main": feed.is_main,
        "offset_s": feed.offset_s,
        "duration_s": feed.duration_s,
        "playlist_url": url_for(
            "replays.playlist", replay_id=replay.id, replay_feed_id=feed.id, _external=True
        ),
        "mp4": _file(feed.mp4_status, feed.mp4_progress, feed.mp4_size, feed.mp4_error, download),
    }


def replay_payload(replay) -> dict:
    viewer = _viewer()
    manages = replays.can_manage(replay, viewer)
    composed_ready = replay.composed_status == FileStatus.READY
    return {
        "id": replay.id,
        "live_id": replay.live_id,
        "title": replay.title,
        "visibility": replay.visibility.value,
        "owner": user_payload(replay.owner, viewer),
        "created_at": replay.created_at,
        "expires_at": replays.expires_at(replay),
        "duration_s": replay.duration_s,
        "size_bytes": replay.size_bytes,
        "thumbnail_url": url_for("replays.thumbnail", replay_id=replay.id, _external=True)
        if replay.thumbnail_path
        else None,
        "player_url": url_for("replays.show", replay_id=replay.id, _external=True),
        "feeds": [
            _feed_payload(replay, feed, viewer, manages)
            for feed in sorted(replay.feeds, key=lambda f: (not f.is_main, f.id))
        ],
        "composed": {
            **_file(
                replay.composed_status,
                replay.composed_progress,
                replay.composed_size,
                replay.composed_error,
                url_for("replays.download_composed", replay_id=replay.id, _external=True)
                if manages
                else None,
            ),
            "watch_url": url_for("replays.composed", replay_id=replay.id, _external=True)
            if composed_ready
            else None,
        },
        "can_manage": manages,
    }


def posted_video_payload(video) -> dict:
    return {
        **video_payload(video),
        "title": video.title,
        "replay_id": video.replay_id,
        "trim_start_s": video.trim_start_s,
        "trim_end_s": video.trim_end_s,
    }


def usage_payload(usage: replays.Usage) -> dict:
    return {
        "replays_bytes": usage.replays_bytes,
        "videos_bytes": usage.videos_bytes,
        "total_bytes": usage.total_bytes,
        "quota_bytes": usage.quota_bytes,
        "percent": usage.percent,
        "over": usage.over,
    }


def _percent(total: int, quota: int | None) -> int | None:
    return round(100 * total / quota) if quota else None


# -- the caller's and a person's replays ------------------------------------------------------
@bp.route("/replays")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(PageArgs, location="query")
@bp.response(200, ReplayPageSchema)
def my_replays(args):
    """Your replays, newest first (deleted ones are gone)."""
    page = replays.replays_of(current_user, page=args["page"], per_page=args["per_page"])
    return page_payload(page, replay_payload)


@bp.route("/users/<username>/replays")
@bp.arguments(VisibleReplaysArgs, location="query")
@bp.response(200, ReplaySchema(many=True))
@bp.alt_response(404, schema=ApiErrorSchema, description="No one has this username.")
def user_replays(args, username):
    """A person's replays the caller may watch, newest first (public ones for anyone,
    followers' ones for their followers, every one for the person and admins)."""
    owner = accounts.get_by_username(username)
    return [replay_payload(r) for r in replays.visible_replays_of(owner, _viewer(), limit=args["limit"])]


# -- one replay -----------------------------------------------------------------------------
@bp.route("/replays/<int:replay_id>")
@bp.response(200, ReplaySchema)
@bp.alt_response(404, schema=ApiErrorSchema, description="Unknown, deleted, or not for the caller's eyes.")
def get_replay(replay_id):
    """A replay with its feeds and the state of its MP4s (poll it while they are made,
    or listen to `replay_progress` on the /me Socket.IO namespace)."""
    return replay_payload(replays.get_visible(replay_id, _viewer()))


@bp.route("/replays/<int:replay_id>", methods=["PATCH"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ReplayPatchSchema)
@bp.response(200, ReplaySchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="A viewer of the replay who does not manage it.")
@bp.alt_response(404, schema=ApiErrorSchema, description="Unknown, deleted, or not for the caller's eyes.")
@bp.alt_response(422, schema=ApiErrorSchema, description="Empty or too long title, unknown visibility.")
def update_replay(data, replay_id):
    """Rename a replay or change who may watch it (its owner or an admin)."""
    replay = replays.get_managed(replay_id, current_user)
    return replay_payload(
        replays.update(replay, current_user, title=data.get("title"), visibility=data.get("visibility"))
    )


@bp.route("/replays/<int:replay_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(403, schema=ApiErrorSchema, description="A viewer of the replay who does not manage it.")
@bp.alt_response(404, schema=ApiErrorSchema, description="Unknown, deleted, or not for the caller's eyes.")
def delete_replay(replay_id):
    """Delete a replay and its files (its owner or an admin). Videos posted from it stay."""
    replays.delete(replays.get_managed(replay_id, current_user), current_user)


@bp.route("/replays/<int:replay_id>/retry", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, ReplaySchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="A viewer of the replay who does not manage it.")
@bp.alt_response(404, schema=ApiErrorSchema, description="Unknown, deleted, or not for the caller's eyes.")
def retry_replay(replay_id):
    """Make the replay's failed MP4s again (its owner or an admin); they are queued
    (`pending`). Nothing failed: nothing changes."""
    replay = replays.get_managed(replay_id, current_user)
    replays.retry(replay, current_user)
    return replay_payload(replay)


@bp.route("/replays/<int:replay_id>/timeline")
@bp.response(200, TimelineSchema)
@bp.alt_response(404, schema=ApiErrorSchema, description="Unknown, deleted, or not for the caller's eyes.")
def replay_timeline(replay_id):
    """The live's chat and Q&A placed on the replay's time line, with the answered
    questions as chapters (the objects of docs/realtime.md, plus `t`)."""
    return replays.timeline_payload(replays.get_visible(replay_id, _viewer()))


@bp.route("/replays/<int:replay_id>/post", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(PostReplayInSchema)
@bp.response(202, PostedVideoSchema, description="The video, converting (status processing).")
@bp.alt_response(403, schema=ApiErrorSchema, description="Not the replay's owner, or banned.")
@bp.alt_response(404, schema=ApiErrorSchema, description="Unknown, deleted, or not for the caller's eyes.")
@bp.alt_response(
    409, schema=ApiErrorSchema, description="Its MP4 is not ready yet, or the storage quota is used up."
)
@bp.alt_response(
    422,
    schema=ApiErrorSchema,
    description="Bad time, end before start, a part shorter or longer than feed videos may be, long title.",
)
def post_replay(data, replay_id):
    """Post the replay, or a part of it, to the feed as a video (its owner only).

    The video is converted in the background from the replay's MP4 into a copy of its
    own, which stays when the replay is deleted. Poll `GET /videos/{id}` (or listen
    to `video_progress`) until it is `ready`.
    """
    replay = replays.get_visible(replay_id, current_user)
    video = replays.post_to_feed(
        replay,
        current_user,
        title=data["title"],
        caption=data["caption"],
        trim_start=data["trim_start"],
        trim_end=data["trim_end"],
        composed=data["composed"],
    )
    return posted_video_payload(video)


# -- storage ----------------------------------------------------------------------------------
@bp.route("/me/storage")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, UsageSchema)
def my_storage():
    """What your replays and videos use, and your quota."""
    return usage_payload(replays.usage(current_user))


@bp.route("/admin/storage")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(SiteStorageArgs, location="query")
@bp.response(200, SiteStorageSchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="Not an admin.")
def site_storage(args):
    """The site's storage for admins: replays and videos, the disk, and the people who use the most."""
    admin.require_admin(current_user)
    found = replays.site_storage(limit=args["limit"])
    quota = found["quota_bytes"]
    return {
        **{key: value for key, value in found.items() if key != "people"},
        "total_bytes": found["replays_bytes"] + found["videos_bytes"],
        "people": [
            {
                "user": user_payload(person.user),
                "replays": person.replays,
                "replays_bytes": person.replays_bytes,
                "videos_bytes": person.videos_bytes,
                "total_bytes": person.total_bytes,
                "percent": _percent(person.total_bytes, quota),
            }
            for person in found["people"]
        ],
    }

"""Short videos and stories: upload, status while converting, lists, delete."""

import marshmallow as ma
from flask import url_for
from flask_login import current_user
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from livelite.blueprints.api.common import (
    AUTH_DOC,
    ApiErrorSchema,
    PageArgs,
    UserSchema,
    page_payload,
    require,
    user_payload,
)
from livelite.models import VideoStatus
from livelite.services import accounts, videos

bp = Blueprint("api_videos", __name__, url_prefix="/api/v1", description="Short videos and stories")


class VideoEventSchema(ma.Schema):
    id = ma.fields.Int()
    title = ma.fields.Str()
    starts_at = ma.fields.AwareDateTime()
    url = ma.fields.Str()
    going = ma.fields.Bool(metadata={"description": "Whether the caller RSVPed."})


class VideoSchema(ma.Schema):
    id = ma.fields.Int()
    kind = ma.fields.Str(metadata={"enum": ["video", "story"]})
    media_type = ma.fields.Str(metadata={"enum": ["video", "photo"]})
    status = ma.fields.Str(metadata={"enum": ["processing", "ready", "failed"]})
    progress = ma.fields.Int(metadata={"description": "Conversion progress in percent (100 once ready)."})
    error = ma.fields.Str(metadata={"description": "Why the conversion failed; empty otherwise."})
    caption = ma.fields.Str()
    duration_s = ma.fields.Float(allow_none=True)
    width = ma.fields.Int(allow_none=True)
    height = ma.fields.Int(allow_none=True)
    size_bytes = ma.fields.Int(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    ready_at = ma.fields.AwareDateTime(allow_none=True)
    expires_at = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "Stories only."})
    creator = ma.fields.Nested(UserSchema)
    event = ma.fields.Nested(VideoEventSchema, allow_none=True)
    url = ma.fields.Str(metadata={"description": "The video's page."})
    file_url = ma.fields.Str(
        allow_none=True, metadata={"description": "MP4 (H.264/AAC) or JPEG, once ready."}
    )
    thumbnail_url = ma.fields.Str(allow_none=True)


class VideoPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VideoSchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class StoryRingSchema(ma.Schema):
    user = ma.fields.Nested(UserSchema)
    stories = ma.fields.List(ma.fields.Nested(VideoSchema))


class UploadFormSchema(ma.Schema):
    kind = ma.fields.Str(load_default="video", validate=ma.validate.OneOf(["video", "story"]))
    caption = ma.fields.Str(load_default="")
    event_id = ma.fields.Int(load_default=None, allow_none=True)


class UploadFileSchema(ma.Schema):
    file = Upload(
        metadata={"description": "The video (MP4, MOV, WebM) or, for a story, a JPEG/PNG/WebP picture."}
    )


class UploadDocSchema(UploadFormSchema, UploadFileSchema):
    """The multipart body as documented: flask-smorest documents one request body per
    operation, so without this the form fields (kind, caption, event_id) were missing."""


def video_payload(video) -> dict:
    viewer = current_user if current_user.is_authenticated else None
    card = videos.event_card(video, viewer)
    ready = video.status == VideoStatus.READY
    return {
        "id": video.id,
        "kind": video.kind.value,
        "media_type": video.media_type.value,
        "status": video.status.value,
        "progress": video.progress,
        "error": videos.error_message(video),
        "caption": video.caption,
        "duration_s": video.duration_s,
        "width": video.width,
        "height": video.height,
        "size_bytes": video.size_bytes,
        "created_at": video.created_at,
        "ready_at": video.ready_at,
        "expires_at": video.expires_at,
        "creator": user_payload(video.creator, viewer),
        "event": {
            "id": card["event"].id,
            "title": card["event"].title,
            "starts_at": card["event"].starts_at,
            "url": url_for("events.show", event_id=card["event"].id, _external=True),
            "going": card["going"],
        }
        if card
        else None,
        "url": url_for("videos.show", video_id=video.id, _external=True),
        "file_url": url_for("videos.file", video_id=video.id, _external=True) if ready else None,
        "thumbnail_url": url_for("videos.thumbnail", video_id=video.id, _external=True)
        if video.thumbnail_path
        else None,
    }


def _viewer():
    return current_user if current_user.is_authenticated else None


@bp.route("/videos", methods=["POST"])
@require("write")
@bp.doc(
    **AUTH_DOC,
    requestBody={"required": True, "content": {"multipart/form-data": {"schema": UploadDocSchema}}},
)
@bp.arguments(UploadFormSchema, location="form")
@bp.arguments(UploadFileSchema, location="files")
@bp.response(201, VideoSchema)
@bp.alt_response(403, schema=ApiErrorSchema, description="Banned.")
@bp.alt_response(413, schema=ApiErrorSchema, description="Larger than the upload limit.")
@bp.alt_response(422, schema=ApiErrorSchema, description="Not a video, damaged, too short, too long…")
def upload(form, files):
    """Upload a video or a story (multipart/form-data).

    A video answers at once with ``status: processing``; poll ``GET /videos/{id}``
    (or listen to ``video_progress`` on the /me Socket.IO namespace) until it is
    ``ready`` or ``failed``. A picture story is ready at once.
    """
    upload_file = files.get("file")
    video = videos.upload(
        current_user,
        upload_file.stream if upload_file and upload_file.filename else None,
        kind=form["kind"],
        caption=form["caption"],
        event_id=form["event_id"],
    )
    return video_payload(video)


@bp.route("/videos/<int:video_id>")
@bp.response(200, VideoSchema)
@bp.alt_response(404, schema=ApiErrorSchema, description="Unknown, expired, or not ready and not yours.")
def get_video(video_id):
    """A video with its status and progress (processing ones for their creator only)."""
    return video_payload(videos.get_visible(video_id, _viewer()))


@bp.route("/videos/<int:video_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(403, schema=ApiErrorSchema)
def delete_video(video_id):
    """Delete a video or story with its files (its creator, or an admin)."""
    videos.delete_video(videos.get_deletable(video_id, current_user), current_user)


@bp.route("/users/<username>/videos")
@bp.arguments(PageArgs, location="query")
@bp.response(200, VideoPageSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def user_videos(args, username):
    """A person's short videos, newest first (their own processing ones for themselves)."""
    user = accounts.get_by_username(username)
    page = videos.videos_of(user, _viewer(), page=args["page"], per_page=args["per_page"])
    return page_payload(page, video_payload)


@bp.route("/stories")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, StoryRingSchema(many=True))
def stories():
    """Active stories of the people the caller follows (and the caller's own first),
    one entry per person, stories oldest first."""
    return [
        {"user": user_payload(ring.user, current_user), "stories": [video_payload(v) for v in ring.stories]}
        for ring in videos.story_rings(current_user)
    ]

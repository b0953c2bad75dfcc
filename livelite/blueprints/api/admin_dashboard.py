"""Admin dashboard operations: the overview, lives now (and stopping one), site
settings, registration invite codes, the site-wide moderation log, recent errors.
Every operation is for admins only (the services check it)."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, url_for
from flask_login import current_user
from flask_smorest import Blueprint

from livelite import errorlog
from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, PageArgs, page_payload, require
from livelite.extensions import db
from livelite.services import admin, dashboard, moderators, registration, settings

bp = Blueprint(
    "api_admin_dashboard",
    __name__,
    url_prefix="/api/v1/admin",
    description="Admin dashboard: overview, lives now, settings, invite codes, logs (admins only)",
)


# -- schemas ----------------------------------------------------------------------------
class AdminPeopleFiguresSchema(ma.Schema):
    total = ma.fields.Int()
    new_7_days = ma.fields.Int()
    banned = ma.fields.Int()


class AdminStorageFiguresSchema(ma.Schema):
    replays = ma.fields.Int()
    replays_bytes = ma.fields.Int()
    videos = ma.fields.Int()
    videos_bytes = ma.fields.Int()
    disk_free_bytes = ma.fields.Int()
    disk_total_bytes = ma.fields.Int()


class AdminFfmpegFiguresSchema(ma.Schema):
    ingest = ma.fields.Int()
    video = ma.fields.Int()
    replay = ma.fields.Int()


class AdminWaitingSchema(ma.Schema):
    access_requests = ma.fields.Int()
    reports = ma.fields.Int()
    coin_requests = ma.fields.Int()
    cashouts = ma.fields.Int()


class AdminOverviewSchema(ma.Schema):
    lives_now = ma.fields.Int()
    viewers_now = ma.fields.Int(metadata={"description": "As this server process sees them."})
    people = ma.fields.Nested(AdminPeopleFiguresSchema)
    storage = ma.fields.Nested(AdminStorageFiguresSchema)
    ffmpeg = ma.fields.Nested(
        AdminFfmpegFiguresSchema, metadata={"description": "ffmpeg running now, by kind."}
    )
    waiting = ma.fields.Nested(AdminWaitingSchema)


class AdminHealthFiguresSchema(ma.Schema):
    running = ma.fields.Bool(metadata={"description": "False: figures from the last stored snapshot."})
    state = ma.fields.Str(metadata={"enum": ["good", "fair", "poor", "unknown"]})
    input_bitrate_kbps = ma.fields.Float(allow_none=True)
    output_fps = ma.fields.Float(allow_none=True)
    keyframe_interval_s = ma.fields.Float(allow_none=True)
    lag_seconds = ma.fields.Float(allow_none=True)


class AdminMonitorFeedSchema(ma.Schema):
    id = ma.fields.Int()
    username = ma.fields.Str()
    is_host = ma.fields.Bool()
    source = ma.fields.Str(metadata={"enum": ["browser", "rtmp"]})
    health = ma.fields.Nested(AdminHealthFiguresSchema)


class AdminMonitorLiveSchema(ma.Schema):
    id = ma.fields.Int()
    title = ma.fields.Str()
    host = ma.fields.Str(metadata={"description": "The host's username."})
    visibility = ma.fields.Str()
    status = ma.fields.Str()
    end_reason = ma.fields.Str(allow_none=True)
    started_at = ma.fields.AwareDateTime(allow_none=True)
    viewers = ma.fields.Int()
    watch_url = ma.fields.Str()
    feeds = ma.fields.List(ma.fields.Nested(AdminMonitorFeedSchema))


class AdminSettingSchema(ma.Schema):
    key = ma.fields.Str()
    label = ma.fields.Str()
    group = ma.fields.Str()
    type = ma.fields.Str(metadata={"enum": ["integer", "boolean"]})
    value = ma.fields.Raw(metadata={"description": "The current value (integer or boolean)."})
    default = ma.fields.Raw()
    minimum = ma.fields.Int(allow_none=True)
    maximum = ma.fields.Int(allow_none=True)


def _settings_patch_schema() -> type[ma.Schema]:
    fields = {}
    for key, spec in settings.SETTINGS.items():
        kind = "boolean" if spec.type is bool else "integer"
        meta = {"type": kind, "description": str(spec.label)}
        if spec.minimum is not None:
            meta.update(minimum=spec.minimum, maximum=spec.maximum)
        fields[key] = ma.fields.Raw(metadata=meta)
    return ma.Schema.from_dict(fields, name="AdminSettingsPatch")


AdminSettingsPatchSchema = _settings_patch_schema()


class AdminInviteSchema(ma.Schema):
    id = ma.fields.Int()
    code = ma.fields.Str(
        metadata={"description": "Shown to people as XXXXX-XXXXX; dashes and case do not matter."}
    )
    note = ma.fields.Str()
    max_uses = ma.fields.Int(allow_none=True, metadata={"description": "null: no limit."})
    uses = ma.fields.Int()
    expires_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    state = ma.fields.Str(metadata={"enum": ["active", "revoked", "expired", "used_up"]})


class AdminInviteCreateSchema(ma.Schema):
    note = ma.fields.Str(load_default="")
    max_uses = ma.fields.Int(load_default=1, allow_none=True, metadata={"description": "null: no limit."})
    expires_in_days = ma.fields.Int(
        load_default=None, allow_none=True, metadata={"description": "null: never."}
    )


class AdminModerationLogArgs(PageArgs):
    host = ma.fields.Str(load_default="", metadata={"description": "The host's username."})
    action = ma.fields.Str(load_default="", validate=ma.validate.OneOf(["", *dashboard.MODERATION_ACTIONS]))


class AdminModerationEntrySchema(ma.Schema):
    id = ma.fields.Int()
    created_at = ma.fields.AwareDateTime()
    host = ma.fields.Str(allow_none=True)
    actor = ma.fields.Str(allow_none=True)
    target = ma.fields.Str(allow_none=True)
    action = ma.fields.Str()
    action_label = ma.fields.Str()
    detail = ma.fields.Str()
    live_id = ma.fields.Int(allow_none=True)
    live_title = ma.fields.Str(allow_none=True)


class AdminModerationPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AdminModerationEntrySchema))
    page = ma.fields.Int()
    pages = ma.fields.Int()
    total = ma.fields.Int()


class AdminLoggedErrorSchema(ma.Schema):
    at = ma.fields.AwareDateTime()
    logger = ma.fields.Str()
    level = ma.fields.Str()
    message = ma.fields.Str()
    exception = ma.fields.Str(allow_none=True, metadata={"description": "The exception's type only."})


class AdminFailureSchema(ma.Schema):
    kind = ma.fields.Str(metadata={"enum": ["live", "video", "replay", "webhook"]})
    at = ma.fields.AwareDateTime()
    what = ma.fields.Str()
    reason = ma.fields.Str()
    live_id = ma.fields.Int(allow_none=True)
    replay_id = ma.fields.Int(allow_none=True)
    username = ma.fields.Str(allow_none=True)


class AdminErrorsSchema(ma.Schema):
    logged = ma.fields.List(
        ma.fields.Nested(AdminLoggedErrorSchema),
        metadata={
            "description": "The last log records at ERROR or above of this server process, newest first."
        },
    )
    failures = ma.fields.List(
        ma.fields.Nested(AdminFailureSchema),
        metadata={"description": "Failures kept in the database, last 7 days."},
    )


# -- payloads ---------------------------------------------------------------------------
def _live_payload(live, viewers: int = 0, feeds=()) -> dict:
    return {
        "id": live.id,
        "title": live.title,
        "host": live.host.username,
        "visibility": live.visibility.value,
        "status": live.status.value,
        "end_reason": live.end_reason,
        "started_at": live.started_at,
        "viewers": viewers,
        "watch_url": url_for("lives.watch", live_id=live.id, _external=True),
        "feeds": [
            {
                "id": f["id"],
                "username": f["user"].username,
                "is_host": f["is_host"],
                "source": f["source"],
                "health": f["health"],
            }
            for f in feeds
        ],
    }


def _settings_payload() -> list[dict]:
    current = settings.all_settings()
    out = []
    for slug, _title, keys in dashboard.grouped_settings():
        for key in keys:
            spec = settings.SETTINGS[key]
            out.append(
                {
                    "key": key,
                    "label": str(spec.label),
                    "group": slug,
                    "type": "boolean" if spec.type is bool else "integer",
                    "value": current[key],
                    "default": current_app.config[key],
                    "minimum": spec.minimum,
                    "maximum": spec.maximum,
                }
            )
    return out


def _invite_payload(invite) -> dict:
    return {
        "id": invite.id,
        "code": registration.format_code(invite.code),
        "note": invite.note,
        "max_uses": invite.max_uses,
        "uses": invite.uses,
        "expires_at": invite.expires_at,
        "revoked_at": invite.revoked_at,
        "created_at": invite.created_at,
        "state": registration.state_of(invite),
    }


# -- operations -------------------------------------------------------------------------
@bp.route("/overview")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, AdminOverviewSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def overview():
    """Lives and viewers now, people, storage, running ffmpeg, and what waits for an admin."""
    return dashboard.overview(current_user, current_app)


@bp.route("/lives")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, AdminMonitorLiveSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
def lives_now():
    """Every live now with its viewers and each feed's health."""
    return [
        _live_payload(row["live"], row["viewers"], row["feeds"])
        for row in dashboard.live_monitor(current_user, current_app)
    ]


@bp.route("/lives/<int:live_id>/stop", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, AdminMonitorLiveSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="The live has already ended.")
def stop_live(live_id):
    """End a live (reason "admin"); the host is told an admin ended it."""
    return _live_payload(dashboard.stop_live(current_user, current_app, live_id))


@bp.route("/settings")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, AdminSettingSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
def get_settings():
    """Every site setting: value, default, range, group."""
    admin.require_admin(current_user)
    return _settings_payload()


@bp.route("/settings", methods=["PATCH"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(AdminSettingsPatchSchema)
@bp.response(200, AdminSettingSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema, description="Errors per setting; nothing is saved.")
def patch_settings(data):
    """Change settings: only the given keys; all are checked first, and none is saved
    if one is wrong."""
    dashboard.save_settings(current_user, data)
    return _settings_payload()


@bp.route("/registration-invites")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, AdminInviteSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema)
def list_invites():
    """Registration invite codes, newest first, with their uses."""
    return [_invite_payload(i) for i in registration.list_invites(current_user)]


@bp.route("/registration-invites", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(AdminInviteCreateSchema)
@bp.response(201, AdminInviteSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def create_invite(data):
    """A new code that lets people register while registration is closed."""
    return _invite_payload(registration.create_invite(current_user, **data))


@bp.route("/registration-invites/<int:invite_id>/revoke", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(200, AdminInviteSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def revoke_invite(invite_id):
    """Stop a code from working; accounts made with it stay."""
    admin.require_admin(current_user)
    invite = registration.revoke_invite(current_user, registration.get_invite(invite_id))
    return _invite_payload(invite)


@bp.route("/moderation-log")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.arguments(AdminModerationLogArgs, location="query")
@bp.response(200, AdminModerationPageSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def moderation_log(args):
    """Every host's moderation log, newest first; filter by host username and action."""
    stmt = dashboard.moderation_log(current_user, args["host"], args["action"])
    page = db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False)
    entries = list(page.items)
    found = moderators.lives_of_entries(entries)
    hosts = dashboard.hosts_of(entries)

    def item(e):
        live = found.get(e.live_id)
        host = hosts.get(e.host_id)
        return {
            "id": e.id,
            "created_at": e.created_at,
            "host": host.username if host else None,
            "actor": e.actor.username if e.actor else None,
            "target": e.target.username if e.target else None,
            "action": e.action,
            "action_label": moderators.action_label(e),
            "detail": moderators.detail_of(e),
            "live_id": e.live_id,
            "live_title": live.title if live else None,
        }

    return page_payload(page, item)


@bp.route("/errors")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, AdminErrorsSchema)
@bp.alt_response(403, schema=ApiErrorSchema)
def errors():
    """Recent errors: this process's last logged errors and the failures of the last 7 days."""
    admin.require_admin(current_user)
    return {
        "logged": [r.as_dict() for r in errorlog.buffer_of(current_app).recent()],
        "failures": [f.as_dict() for f in dashboard.recent_failures(current_user)],
    }

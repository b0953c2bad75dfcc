"""Class mode: member groups, joining by invite code, a live's attendance."""

import marshmallow as ma
from flask import url_for
from flask_login import current_user
from flask_smorest import Blueprint

from livelite.blueprints.api.common import AUTH_DOC, ApiErrorSchema, require
from livelite.blueprints.classes.routes import join_limit
from livelite.extensions import limiter
from livelite.services import classes, lives
from livelite.services.classes import NAME_MAX

bp = Blueprint("api_classes", __name__, url_prefix="/api/v1", description="Class mode")


class ClassMemberSchema(ma.Schema):
    id = ma.fields.Int()
    username = ma.fields.Str()
    display_name = ma.fields.Str()


class ClassGroupSchema(ma.Schema):
    id = ma.fields.Int()
    name = ma.fields.Str()
    member_count = ma.fields.Int()
    created_at = ma.fields.AwareDateTime()
    members = ma.fields.List(
        ma.fields.Nested(ClassMemberSchema), metadata={"description": "Only on one group."}
    )


class ClassGroupInSchema(ma.Schema):
    name = ma.fields.Str(
        required=True, metadata={"description": f"1 to {NAME_MAX} characters, unique per owner."}
    )


class ClassMembersInSchema(ma.Schema):
    usernames = ma.fields.List(
        ma.fields.Str(), required=True, metadata={"description": "Usernames (an @ in front is fine)."}
    )


class ClassMembersAddedSchema(ma.Schema):
    added = ma.fields.List(ma.fields.Str())
    already = ma.fields.List(ma.fields.Str())
    unknown = ma.fields.List(ma.fields.Str(), metadata={"description": "Names no account has; not added."})


class ClassMembersOutSchema(ma.Schema):
    usernames = ma.fields.List(ma.fields.Str(), required=True)


class JoinCodeSchema(ma.Schema):
    code = ma.fields.Str(
        required=True, metadata={"description": "8 characters; case and dashes or spaces do not matter."}
    )


class JoinedLiveSchema(ma.Schema):
    live_id = ma.fields.Int()
    status = ma.fields.Str(metadata={"enum": ["scheduled", "live", "ended"]})
    url = ma.fields.Str(metadata={"description": "The watch page, with the invitation."})
    invite = ma.fields.Str(metadata={"description": "The invite token, for ?invite= and the socket."})


class AttendanceLineSchema(ma.Schema):
    kind = ma.fields.Str(metadata={"enum": ["user", "absent", "visitors"]})
    username = ma.fields.Str(allow_none=True)
    display_name = ma.fields.Str(allow_none=True)
    first_join = ma.fields.AwareDateTime(allow_none=True)
    last_leave = ma.fields.AwareDateTime(allow_none=True, metadata={"description": "None while still there."})
    still_here = ma.fields.Bool()
    seconds = ma.fields.Int()
    joins = ma.fields.Int()
    visitors = ma.fields.Int(metadata={"description": "How many visitors, on the visitors line."})


def group_payload(group, *, members: bool = False) -> dict:
    people = classes.members_of(group)
    data = {"id": group.id, "name": group.name, "member_count": len(people), "created_at": group.created_at}
    if members:
        data["members"] = [
            {"id": u.id, "username": u.username, "display_name": u.display_name} for u in people
        ]
    return data


@bp.route("/groups")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, ClassGroupSchema(many=True))
def list_groups():
    """The caller's groups (class lists), by name."""
    return [group_payload(g) for g in classes.groups_of(current_user)]


@bp.route("/groups", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ClassGroupInSchema)
@bp.response(201, ClassGroupSchema)
@bp.alt_response(409, schema=ApiErrorSchema, description="Already at the most groups allowed.")
@bp.alt_response(422, schema=ApiErrorSchema, description="Empty, too long, or a name already used.")
def create_group(data):
    """Create a group."""
    return group_payload(classes.create_group(current_user, data["name"]), members=True)


@bp.route("/groups/<int:group_id>")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, ClassGroupSchema)
@bp.alt_response(404, schema=ApiErrorSchema, description="No such group of the caller's.")
def get_group(group_id):
    """One of the caller's groups, with its members."""
    return group_payload(classes.get_group(group_id, current_user), members=True)


@bp.route("/groups/<int:group_id>", methods=["PATCH"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ClassGroupInSchema)
@bp.response(200, ClassGroupSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def rename_group(data, group_id):
    """Rename a group."""
    group = classes.get_group(group_id, current_user)
    return group_payload(classes.rename_group(group, current_user, data["name"]), members=True)


@bp.route("/groups/<int:group_id>", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.response(204)
@bp.alt_response(404, schema=ApiErrorSchema)
def delete_group(group_id):
    """Delete a group; lives opened to it then need the link or code."""
    classes.delete_group(classes.get_group(group_id, current_user), current_user)


@bp.route("/groups/<int:group_id>/members", methods=["POST"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ClassMembersInSchema)
@bp.response(200, ClassMembersAddedSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema, description="No names, or the group would be too big.")
def add_members(data, group_id):
    """Add people by username. Unknown names come back in ``unknown``; the others are added."""
    group = classes.get_group(group_id, current_user)
    result = classes.add_members(group, current_user, data["usernames"])
    return {
        "added": [u.username for u in result.added],
        "already": [u.username for u in result.already],
        "unknown": result.unknown,
    }


@bp.route("/groups/<int:group_id>/members", methods=["DELETE"])
@require("write")
@bp.doc(**AUTH_DOC)
@bp.arguments(ClassMembersOutSchema)
@bp.response(204)
@bp.alt_response(404, schema=ApiErrorSchema)
def remove_members(data, group_id):
    """Remove people by username (names not in the group are ignored)."""
    group = classes.get_group(group_id, current_user)
    wanted = {n.lower().lstrip("@") for n in data["usernames"]}
    for user in classes.members_of(group):
        if user.username.lower() in wanted:
            classes.remove_member(group, current_user, user.id)


@bp.route("/join", methods=["POST"])
@limiter.shared_limit(join_limit, scope="join-code")
@bp.arguments(JoinCodeSchema)
@bp.response(200, JoinedLiveSchema)
@bp.alt_response(404, schema=ApiErrorSchema, description="No invite-only live has this code.")
@bp.alt_response(429, schema=ApiErrorSchema, description="Too many tries from this address.")
def join(data):
    """The live an invite code opens, with its watch address (invitation included).
    Rate limited per address together with the /join page."""
    live = classes.live_for_code(data["code"])
    return {
        "live_id": live.id,
        "status": live.status.value,
        "url": url_for("lives.watch", live_id=live.id, invite=live.invite_token, _external=True),
        "invite": live.invite_token,
    }


@bp.route("/lives/<int:live_id>/attendance")
@require("read")
@bp.doc(**AUTH_DOC)
@bp.response(200, AttendanceLineSchema(many=True))
@bp.alt_response(403, schema=ApiErrorSchema, description="Not the host or an admin.")
@bp.alt_response(404, schema=ApiErrorSchema)
def attendance(live_id):
    """Per person: first join, last leave, seconds present, joins; absent group members;
    one line for all visitors. Sorted by name."""
    lines = classes.attendance(lives.get_live(live_id), current_user)
    return [
        {
            "kind": line.kind,
            "username": line.user.username if line.user else None,
            "display_name": line.user.display_name if line.user else None,
            "first_join": line.first_join,
            "last_leave": None if line.still_here else line.last_leave,
            "still_here": line.still_here,
            "seconds": line.seconds,
            "joins": line.joins,
            "visitors": line.visitors,
        }
        for line in lines
    ]

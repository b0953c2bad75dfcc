"""Class mode pages: /join (type an invite code), Settings → Groups, attendance."""

from flask import Blueprint

bp = Blueprint("classes", __name__)

from livelite.blueprints.classes import routes  # noqa: E402,F401

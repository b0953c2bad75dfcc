from flask import Blueprint

bp = Blueprint("lives", __name__)

from livelite.blueprints.lives import events, routes  # noqa: E402,F401

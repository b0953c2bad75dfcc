from flask import Blueprint

bp = Blueprint("events", __name__)

from livelite.blueprints.events import routes  # noqa: E402,F401

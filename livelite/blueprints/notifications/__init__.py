from flask import Blueprint

bp = Blueprint("notifications", __name__)

from livelite.blueprints.notifications import routes  # noqa: E402,F401

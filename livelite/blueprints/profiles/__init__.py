from flask import Blueprint

bp = Blueprint("profiles", __name__)

from livelite.blueprints.profiles import routes  # noqa: E402,F401

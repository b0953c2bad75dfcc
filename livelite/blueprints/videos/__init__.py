from flask import Blueprint

bp = Blueprint("videos", __name__)

from livelite.blueprints.videos import routes  # noqa: E402,F401

from flask import Blueprint

bp = Blueprint("media", __name__)

from livelite.blueprints.media_files import routes  # noqa: E402,F401

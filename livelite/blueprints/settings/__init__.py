from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")

from livelite.blueprints.settings import gifts, routes  # noqa: E402,F401

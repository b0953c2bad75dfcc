from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from livelite.blueprints.admin import reports, routes  # noqa: E402,F401

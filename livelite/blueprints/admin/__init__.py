from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from livelite.blueprints.admin import cashouts, coins, gifts, reports, routes, storage  # noqa: E402,F401

"""Creator earnings (diamonds per live and per gift) and cash-out requests."""

from flask import Blueprint

bp = Blueprint("earnings", __name__, url_prefix="/earnings")

from livelite.blueprints.earnings import routes  # noqa: E402,F401

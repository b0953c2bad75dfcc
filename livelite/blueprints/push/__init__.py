from flask import Blueprint

bp = Blueprint("push", __name__)

from livelite.blueprints.push import routes  # noqa: E402,F401

"""Live-access requests: the person's request page and the admins' queue."""

from flask import Blueprint

bp = Blueprint("access", __name__)

from livelite.blueprints.access import routes  # noqa: E402,F401

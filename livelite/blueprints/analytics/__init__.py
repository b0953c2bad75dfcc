"""Analytics pages: a live's figures and charts for its host, the host's lives, the
admin's per-day overview (services/analytics.py computes them)."""

from flask import Blueprint

bp = Blueprint("analytics", __name__)

from livelite.blueprints.analytics import routes  # noqa: E402,F401

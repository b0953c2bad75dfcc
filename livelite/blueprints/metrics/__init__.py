"""``GET /metrics`` for Prometheus; the app's metrics registry is made with the blueprint."""

from flask import Blueprint

from livelite import metrics

bp = Blueprint("metrics", __name__)
bp.record_once(lambda state: metrics.init_app(state.app))

from livelite.blueprints.metrics import routes  # noqa: E402,F401

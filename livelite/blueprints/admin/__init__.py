from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from livelite.blueprints.admin import (  # noqa: E402,F401  # noqa: E402,F401
    cashouts,
    coins,
    dashboard,
    gifts,
    moderation,
    reports,
    routes,
    site_settings,
    storage,
    webhooks,
)

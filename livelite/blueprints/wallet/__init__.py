"""The wallet: a person's coins and diamonds, buying coins, the history of movements."""

from flask import Blueprint

bp = Blueprint("wallet", __name__, url_prefix="/wallet")

from livelite.blueprints.wallet import routes  # noqa: E402,F401

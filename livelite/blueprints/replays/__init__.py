"""Replays: the owner's list in settings (manage.py) and the player with its media (player.py)."""

from flask import Blueprint

bp = Blueprint("replays", __name__)

from livelite.blueprints.replays import manage, player  # noqa: E402,F401

"""The studio: the browser publisher page and its Socket.IO ingest namespace."""

from flask import Blueprint

bp = Blueprint("studio", __name__)

from livelite.blueprints.studio import events, routes  # noqa: E402,F401

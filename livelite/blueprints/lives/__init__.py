"""Lives: watching, their media files, and the live room (chat, Q&A, moderation, guests)."""

from flask import Blueprint

bp = Blueprint("lives", __name__)

from livelite.blueprints.lives import (  # noqa: E402,F401
    events,
    gift_events,
    gift_routes,
    guest_events,
    moderation_routes,
    qa_events,
    qa_routes,
    room_events,
    routes,
    staff_events,
)

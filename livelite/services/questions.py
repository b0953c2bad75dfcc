"""Live Q&A. Placeholder interface laid down by the lead; the Q&A helper fills it in."""

from __future__ import annotations

from livelite.models import Live, User
from livelite.services import room


def you_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    return {"voted": [], "next_question_at": None}


def state_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    return {"questions": [], "pinned": None}

"""Multi-guest. Placeholder interface laid down by the lead; the guests helper fills it in."""

from __future__ import annotations

from livelite.models import Live, User
from livelite.services import room


def you_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    return {"guest_status": None}


def state_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    return {"feeds": [], "guests": []}

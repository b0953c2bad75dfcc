"""Live chat: sending (with every room rule), history, payloads.

Placeholder interface laid down by the lead; the chat helper fills it in.
"""

from __future__ import annotations

from sqlalchemy import select

from livelite.extensions import db
from livelite.models import ChatMessage, Live, User
from livelite.services import room


def recent_messages(live: Live, limit: int = room.CHAT_HISTORY) -> list[ChatMessage]:
    """The last ``limit`` visible messages, oldest first."""
    rows = db.session.scalars(
        select(ChatMessage)
        .where(ChatMessage.live_id == live.id, ChatMessage.removed_at.is_(None))
        .order_by(ChatMessage.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


def message_payload(message: ChatMessage) -> dict:
    return {
        "id": message.id,
        "user": room.user_payload(message.user),
        "body": message.body,
        "offset_ms": message.offset_ms,
        "at": message.created_at.isoformat(),
    }


def you_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    return {"can_chat": user is not None, "muted_until": None}


def state_part(live: Live, user: User | None, role: room.RoomRole) -> dict:
    return {"messages": [message_payload(m) for m in recent_messages(live)]}

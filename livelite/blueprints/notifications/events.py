"""Socket.IO namespace /me: a logged-in person's own pages (docs/realtime.md).

connect (client → server): logged-in only; joins ``user:<id>`` and gets
``notifications`` ``{"unread": n}`` at once. The server sends the same event to that
room whenever the count changes (a new notification, or some marked read elsewhere).
"""

from flask_login import current_user
from flask_socketio import emit, join_room

from livelite.extensions import socketio
from livelite.realtime import ME_NAMESPACE, user_room
from livelite.services import notifications


@socketio.on("connect", namespace=ME_NAMESPACE)
def on_connect(auth=None):
    if not current_user.is_authenticated:
        return False
    join_room(user_room(current_user.id))
    emit("notifications", {"unread": notifications.unread_count_of(current_user.id)})
    return True

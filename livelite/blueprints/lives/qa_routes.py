"""The Q&A export: a live's questions as a CSV file, for the host and their moderators."""

from __future__ import annotations

from flask import make_response
from flask_login import current_user, login_required

from livelite.blueprints.lives import bp
from livelite.services import lives, questions


@bp.route("/lives/<int:live_id>/questions.csv")
@login_required
def questions_csv(live_id: int):
    """Download every question of a live (during it or after): the host, the host's
    moderators and admins; anyone else gets 403. The byte-order mark makes
    spreadsheets read the file as UTF-8."""
    live = lives.get_live(live_id)
    body = questions.export_csv(live, current_user)
    day = (live.started_at or live.created_at).strftime("%Y-%m-%d")
    response = make_response("\ufeff" + body)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="live-{live.id}-questions-{day}.csv"'
    # Names and questions of one audience: not for shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response

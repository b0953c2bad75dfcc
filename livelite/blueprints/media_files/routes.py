"""Public media files (avatars, event covers). Live, replay and video files get their
own checked routes."""

from flask import abort, current_app, send_file

from livelite.blueprints.media_files import bp
from livelite.extensions import limiter

# Covers are shown wherever the event is (cards, its page); like avatars, their names
# carry a random directory.
PUBLIC_CATEGORIES = ("avatars", "covers")


@bp.route("/media/<path:path>")
@limiter.exempt
def file(path: str):
    """Serve a public upload; names carry a random directory, so they can be cached forever."""
    if path.split("/", 1)[0] not in PUBLIC_CATEGORIES:
        abort(404)
    target = current_app.extensions["livelite.storage"].served_path(path)
    if target is None or not target.is_file():
        abort(404)
    response = send_file(target, conditional=True, max_age=31536000)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response

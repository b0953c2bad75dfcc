"""Sending a stored media file from a route that has already checked who may have it.

The live's HLS files (blueprints/lives) and the replay's (blueprints/replays) are the
same files under two rules, so they share the names the ingest writes and the way
the bytes leave: Range and conditional requests from Flask, or, behind nginx with
X_ACCEL_REDIRECT_PREFIX set, nginx sends the bytes and the app keeps the check.
"""

from __future__ import annotations

import re

from flask import abort, current_app, make_response, send_file

# Only names ffmpeg writes for us; anything else (logs, temp files, ../) is refused.
MEDIA_NAME_RE = re.compile(r"^run-\d{4}(?:-init\.mp4|-\d{5}\.m4s)$")
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


def send_media(relative: str, mimetype: str, cache_control: str, *, download_name: str | None = None):
    """The file at ``relative`` (to the media root) or 404; ``download_name`` makes it
    an attachment saved under that name."""
    storage = current_app.extensions["livelite.storage"]
    path = storage.served_path(relative)
    if path is None or not path.is_file():
        abort(404)
    prefix = current_app.config.get("X_ACCEL_REDIRECT_PREFIX")
    if prefix:
        # nginx serves the bytes; we keep the permission check.
        response = make_response("")
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + relative
        response.headers["Content-Type"] = mimetype
        if download_name:
            response.headers.set("Content-Disposition", "attachment", filename=download_name)
    else:
        response = send_file(
            path,
            mimetype=mimetype,
            conditional=True,
            etag=True,
            max_age=0,
            as_attachment=bool(download_name),
            download_name=download_name,
        )
    response.headers["Cache-Control"] = cache_control
    return response

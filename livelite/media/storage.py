"""Files under the media root, behind one small interface.

Every upload gets its own random directory and a name we choose, so user-supplied
names never reach the filesystem; paths are stored relative to the root and resolved
with ``safe_join`` so a crafted path can never leave it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from werkzeug.security import safe_join


class FileTooLarge(Exception):
    """A streamed upload went over its size limit (save_stream)."""


# Longest file name and path the filesystem takes: longer is no file of ours.
NAME_MAX, PATH_MAX = 255, 4096


class LocalStorage:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # The root itself may be a link (a bigger disk); links inside it are not followed.
        self._real_root = self.root.resolve()

    def save(self, category: str, filename: str, data: bytes) -> str:
        """Write ``data`` to ``category/<random>/filename``; returns the relative path."""
        relative_dir = f"{category}/{secrets.token_hex(12)}"
        directory = self.root / relative_dir
        directory.mkdir(parents=True)
        target = directory / filename
        tmp = directory / f".{filename}.part"
        tmp.write_bytes(data)
        os.replace(tmp, target)  # readers never see a half-written file
        return f"{relative_dir}/{filename}"

    def new_directory(self, category: str) -> str:
        """Create ``category/<random>`` for files written by a program (ffmpeg); returns it."""
        relative_dir = f"{category}/{secrets.token_hex(12)}"
        (self.root / relative_dir).mkdir(parents=True)
        return relative_dir

    def save_stream(self, category: str, filename: str, stream, *, max_bytes: int | None = None) -> str:
        """Copy a file object to ``category/<random>/filename`` in chunks, never whole in
        memory. Over ``max_bytes`` the copy stops, nothing is kept and FileTooLarge is raised."""
        relative_dir = self.new_directory(category)
        directory = self.root / relative_dir
        tmp = directory / f".{filename}.part"
        written = 0
        try:
            with tmp.open("wb") as out:
                while chunk := stream.read(1024 * 1024):
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise FileTooLarge(written)
                    out.write(chunk)
            os.replace(tmp, directory / filename)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return f"{relative_dir}/{filename}"

    def path(self, relative: str) -> Path | None:
        """Absolute path of a stored file, or None if its name would leave the root
        (``..``, an absolute path) or is no name a filesystem takes (a NUL, too long)."""
        joined = safe_join(str(self.root), relative)
        if joined is None or "\0" in joined or len(joined.encode()) >= PATH_MAX:
            return None
        path = Path(joined)
        if any(len(part.encode()) > NAME_MAX for part in path.parts):
            return None
        return path

    def served_path(self, relative: str) -> Path | None:
        """``path``, for a file or folder about to be sent to someone: None as well when
        a symbolic link under the root leads out of it. The app never makes such links;
        one there was put by someone else, and what it points to is not ours to serve."""
        path = self.path(relative)
        if path is None:
            return None
        try:
            real = path.resolve()
        except (OSError, RuntimeError):  # a link loop
            return None
        if real != self._real_root and self._real_root not in real.parents:
            return None
        return path

    def delete(self, relative: str | None) -> None:
        """Remove a stored file and its random directory; missing files are fine."""
        if not relative:
            return
        path = self.path(relative)
        if path is None:
            return
        directory = path.parent
        if directory != self.root and directory.parent != self.root:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

"""HLS playlists of a feed, assembled from the playlists of its ffmpeg runs.

Each ffmpeg run (the first, and any restart after a crash or a publisher's new
recorder) writes ``run-NNNN.m3u8`` with its own init segment and numbering, so a
restart can never overwrite what was recorded. The feed's playlist is the runs in
order, joined with ``EXT-X-DISCONTINUITY`` and a new ``EXT-X-MAP``; it is built on
request from those small files, so there is no second copy to keep in step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

RUN_PLAYLIST_RE = re.compile(r"^run-(\d{4})\.m3u8$")


@dataclass
class Segment:
    uri: str
    duration: float


@dataclass
class Run:
    number: int
    init: str | None
    segments: list[Segment] = field(default_factory=list)
    ended: bool = False


def run_playlists(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    # ffmpeg writes files, never links: a link here was put by someone else.
    found = [p for p in directory.iterdir() if RUN_PLAYLIST_RE.match(p.name) and not p.is_symlink()]
    return sorted(found, key=lambda p: p.name)


def next_run_number(directory: Path) -> int:
    runs = run_playlists(directory)
    return int(RUN_PLAYLIST_RE.match(runs[-1].name).group(1)) + 1 if runs else 1


def parse_run(path: Path) -> Run:
    """A run playlist, parsed once per change of the file and shared by every caller
    (each viewer's playlist request, the health figures): finished runs never change
    and the live run changes once per segment. Callers must not modify the result."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return Run(number=int(RUN_PLAYLIST_RE.match(path.name).group(1)), init=None)
    return _parse_run_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def _parse_run_cached(path_str: str, _mtime_ns: int, _size: int) -> Run:
    path = Path(path_str)
    number = int(RUN_PLAYLIST_RE.match(path.name).group(1))
    run = Run(number=number, init=None)
    duration = None
    try:
        text = path.read_text()
    except FileNotFoundError:
        return run
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MAP:"):
            match = re.search(r'URI="([^"]+)"', line)
            run.init = match.group(1) if match else None
        elif line.startswith("#EXTINF:"):
            try:
                duration = float(line[8:].split(",", 1)[0])
            except ValueError:
                duration = None
        elif line == "#EXT-X-ENDLIST":
            run.ended = True
        elif line and not line.startswith("#") and duration is not None:
            run.segments.append(Segment(line, duration))
            duration = None
    return run


def feed_runs(directory: Path) -> list[Run]:
    return [run for run in (parse_run(p) for p in run_playlists(directory)) if run.segments and run.init]


def compose(directory: Path, *, ended: bool, window: int | None = None) -> str:
    """The feed's playlist.

    Once the live is over: the whole recording as VOD with ENDLIST (the replay). While
    live with a ``window``: only the newest ``window`` segments, a sliding live
    playlist whose MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE keep every segment's
    number the same as in the full list, so it stays small however long the live is.
    Without a window while live: the whole list as an EVENT playlist.
    """
    runs = feed_runs(directory)
    flat = [(index, segment) for index, run in enumerate(runs) for segment in run.segments]
    durations = [segment.duration for _, segment in flat]
    target = max(1, math.ceil(max(durations))) if durations else 1
    sliding = window is not None and not ended
    first = max(0, len(flat) - window) if sliding else 0
    shown = flat[first:]
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{target}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
    ]
    if sliding:
        if shown and shown[0][0]:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{shown[0][0]}")
    else:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{'VOD' if ended else 'EVENT'}")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    current = None
    for run_index, segment in shown:
        if run_index != current:
            if current is not None:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f'#EXT-X-MAP:URI="{runs[run_index].init}"')
            current = run_index
        lines.append(f"#EXTINF:{segment.duration:.6f},")
        lines.append(segment.uri)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def total_duration(directory: Path) -> float:
    return sum(s.duration for run in feed_runs(directory) for s in run.segments)


def newest_segment(directory: Path) -> tuple[Path, Path] | None:
    """(init segment, newest media segment) of the last run, for previews."""
    runs = feed_runs(directory)
    if not runs:
        return None
    run = runs[-1]
    return directory / run.init, directory / run.segments[-1].uri


# -- reading fMP4 boxes (frame rate for the health figures) ----------------------
_CONTAINERS = {b"moov", b"trak", b"mdia", b"moof", b"traf"}


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """Yield (type, payload start, payload end) for the boxes in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def video_track_id(init: bytes) -> int | None:
    """The track id whose handler is 'vide' in an init segment."""
    for kind, start, end in _boxes(init):
        if kind != b"moov":
            continue
        for trak, t_start, t_end in _boxes(init, start, end):
            if trak != b"trak":
                continue
            track_id, handler = None, None
            for box, b_start, b_end in _boxes(init, t_start, t_end):
                if box == b"tkhd":
                    version = init[b_start]
                    offset = b_start + (20 if version == 1 else 12)
                    track_id = int.from_bytes(init[offset : offset + 4], "big")
                elif box == b"mdia":
                    for sub, s_start, _s_end in _boxes(init, b_start, b_end):
                        if sub == b"hdlr":
                            handler = init[s_start + 8 : s_start + 12]
            if handler == b"vide":
                return track_id
    return None


def sample_count(segment: bytes, track_id: int) -> int:
    """How many samples of ``track_id`` a media segment holds (sum of its trun boxes)."""
    total = 0
    for kind, start, end in _boxes(segment):
        if kind != b"moof":
            continue
        for traf, t_start, t_end in _boxes(segment, start, end):
            if traf != b"traf":
                continue
            current = None
            for box, b_start, _b_end in _boxes(segment, t_start, t_end):
                if box == b"tfhd":
                    current = int.from_bytes(segment[b_start + 4 : b_start + 8], "big")
                elif box == b"trun" and current == track_id:
                    total += int.from_bytes(segment[b_start + 4 : b_start + 8], "big")
    return total


def recent_frame_rate(directory: Path, segments: int = 3) -> float | None:
    """Video frames per second over the newest segments; None without video."""
    runs = feed_runs(directory)
    if not runs:
        return None
    run = runs[-1]
    try:
        track = video_track_id((directory / run.init).read_bytes())
        if track is None:
            return None
        recent = run.segments[-segments:]
        frames = sum(sample_count((directory / s.uri).read_bytes(), track) for s in recent)
    except FileNotFoundError:
        return None
    seconds = sum(s.duration for s in recent)
    return frames / seconds if seconds else None

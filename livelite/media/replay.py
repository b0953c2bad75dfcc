"""The files of a replay, made from what the ingest recorded: the downloadable MP4 of a
feed, the side-by-side MP4 of a multi-guest live, a thumbnail, the time line that puts
the chat back in place, and the repairs a crash calls for.

A feed's recording is one or more runs of HLS fMP4 (``hls.feed_runs``): one per ffmpeg
(a restart after a crash, a publisher's new recorder). The MP4 is those runs end to
end, copied, never encoded again: an init segment followed by its media segments is a
valid fragmented MP4, so each run is streamed into one temporary file next to the
target and ffmpeg's concat demuxer joins the runs, each starting where the previous one
ends. (ffmpeg's ``concatf`` protocol would read the segments where they are, but it
opens every file at once: a three-hour live is 10,800 segments, far past the 1,024
descriptors a service usually gets.) Gaps between runs (a restart, a publisher away)
are cut out; ``timeline`` and ``replay_position`` say where each run sits in wall-clock
time, so what was said in the chat lands on the right second.

Only if the runs differ in their codec parameters (a new recorder at another size) can
they not be copied into one track: then, and only then, the MP4 is encoded again.

Files appear whole or not at all: ffmpeg writes ``<target>.part``, renamed when done.
Pure functions over paths, no Flask, no database; everything blocks (under eventlet
``subprocess`` is patched; callers wrap the OpenCV work in ``manager.run_blocking``).
"""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from livelite.media import hls, transcode
from livelite.media.previews import frame_from_segment

CANVAS_W, CANVAS_H = 1280, 720
CANVAS_FPS = 30
MAX_GUESTS = 5
COPY_CHUNK = 1024 * 1024
# ffmpeg's hls muxer writes an fMP4 segment (and each playlist) to ``<name>.tmp`` and
# renames it within a moment; one left older than this belongs to a killed ffmpeg.
TMP_STALE_S = 10.0
_NO_SPACE = "No space left on device"
_STREAM_RE = re.compile(r"^\s*Stream #\d+:\d+\S*: (Video|Audio):", re.MULTILINE)


class ReplayMediaError(Exception):
    """A replay file could not be made. ``code`` is one of ``empty`` (nothing was
    recorded), ``missing`` (the recording or an input is gone), ``disk_full`` or
    ``ffmpeg_failed``; ``log_tail`` is the end of ffmpeg's log, for the server log."""

    CODES = ("empty", "missing", "disk_full", "ffmpeg_failed")

    def __init__(self, code: str, message: str = "", log_tail: str = ""):
        if code not in self.CODES:
            raise ValueError(f"unknown replay media error {code!r}")
        super().__init__(message or code)
        self.code = code
        self.log_tail = log_tail


@dataclass
class _RecordedRun:
    """A run's files that are really on disk (a lost segment is skipped, not fatal)."""

    init: Path
    segments: list[tuple[Path, float]]

    @property
    def duration(self) -> float:
        return sum(duration for _, duration in self.segments)


def _recorded_runs(feed_dir: Path) -> list[_RecordedRun]:
    runs = []
    for run in hls.feed_runs(feed_dir):
        init = feed_dir / run.init
        if not _nonempty(init):
            continue
        segments = [(feed_dir / s.uri, s.duration) for s in run.segments if _nonempty(feed_dir / s.uri)]
        if segments:
            runs.append(_RecordedRun(init, segments))
    return runs


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


# -- the MP4 of one feed --------------------------------------------------------
def remux_feed(
    ffmpeg: str,
    feed_dir: Path,
    target: Path,
    *,
    log_path: Path,
    on_progress=None,
    on_start=None,
    timeout: float = 3600,
) -> None:
    """Write the feed's whole recording to ``target`` as one MP4 with faststart.

    Every run in order; H.264 and AAC copied (encoded again only when the runs'
    parameters differ, see the module docstring). ``on_progress(percent)`` gets 0–99
    while ffmpeg works and 100 once ``target`` exists; ``on_start(process)`` lets an
    owner kill ffmpeg. Raises ReplayMediaError; nothing partial is left behind.
    """
    feed_dir, target = Path(feed_dir), Path(target)
    if not feed_dir.is_dir():
        raise ReplayMediaError("missing", f"no recording folder {feed_dir}")
    runs = _recorded_runs(feed_dir)
    if not runs:
        raise ReplayMediaError("empty", f"nothing recorded in {feed_dir}")
    total = sum(run.duration for run in runs)
    copy = len({_codec_signature(run.init) for run in runs}) == 1
    with _scratch(target) as scratch:
        try:
            files = [_join_run(run, scratch / f"run-{index:04d}.mp4") for index, run in enumerate(runs, 1)]
        except FileNotFoundError as exc:  # deleted meanwhile (the replay, or its folder)
            raise ReplayMediaError("missing", str(exc)) from exc
        if copy:
            if len(files) == 1:
                inputs = ["-i", f"file:{files[0]}"]
            else:
                joined = scratch / "runs.ffconcat"
                body = "".join(f"file {_quote(f'file:{path}')}\n" for path in files)
                joined.write_text("ffconcat version 1.0\n" + body, encoding="utf-8")
                inputs = ["-f", "concat", "-safe", "0", "-i", f"file:{joined}"]
            outputs = ["-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy"]
        else:
            inputs, outputs = _reencode_args(ffmpeg, runs, files)
        argv = [
            *_head(ffmpeg),
            *inputs,
            *outputs,
            "-map_metadata",
            "-1",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ]
        _run(argv, target, total, log_path, on_progress, on_start, timeout, watched=feed_dir)


def _codec_signature(init: Path) -> bytes:
    """The sample descriptions (codec, size, avcC/esds) of an init segment: runs with
    the same ones can share one track; others cannot be copied into it."""
    try:
        data = init.read_bytes()
    except OSError:  # gone meanwhile: ffmpeg will say so
        return b""
    found = []
    for path in _find_boxes(data, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"]):
        found.append(_strip_bitrates(path))
    return b"".join(found)


def _find_boxes(data: bytes, path: list[bytes], start: int = 0, end: int | None = None):
    for kind, box_start, box_end in hls._boxes(data, start, end):  # the media package's own box reader
        if kind != path[0]:
            continue
        if len(path) == 1:
            yield data[box_start:box_end]
        else:
            yield from _find_boxes(data, path[1:], box_start, box_end)


def _strip_bitrates(stsd: bytes) -> bytes:
    """The esds/btrt bit rates differ from run to run without changing the stream."""
    return re.sub(rb"btrt.{12}", b"btrt", stsd, flags=re.DOTALL)


def _reencode_args(ffmpeg: str, runs: list[_RecordedRun], files: list[Path]) -> tuple[list[str], list[str]]:
    """Runs that cannot share a track (another size or codec): each run is an input,
    scaled to the first run's picture, joined by the concat filter and encoded."""
    infos = [_streams(ffmpeg, f"file:{path}") for path in files]
    size = next((info.size for info in infos if info.size), None)
    has_audio = any(info.audio for info in infos)
    inputs, parts, labels = [], [], []
    for index, (run, info, path) in enumerate(zip(runs, infos, files, strict=True)):
        inputs += ["-i", f"file:{path}"]
        if size:
            width, height = size
            if info.video:
                parts.append(f"[{index}:v:0]setpts=PTS-STARTPTS,{_fit(width, height)}[v{index}]")
            else:
                parts.append(
                    f"color=c=black:s={width}x{height}:r={CANVAS_FPS},trim=duration={run.duration:.3f}[v{index}]"
                )
            labels.append(f"[v{index}]")
        if has_audio:
            if info.audio:
                parts.append(f"[{index}:a:0]asetpts=PTS-STARTPTS,{_AUDIO_FORMAT}[a{index}]")
            else:
                parts.append(f"{_SILENCE},atrim=duration={run.duration:.3f}[a{index}]")
            labels.append(f"[a{index}]")
    video, audio = int(bool(size)), int(has_audio)
    maps = (["-map", "[v]"] if video else []) + (["-map", "[a]"] if audio else [])
    outs = ("[v]" if video else "") + ("[a]" if audio else "")
    parts.append(f"{''.join(labels)}concat=n={len(runs)}:v={video}:a={audio}{outs}")
    # vfr: each frame keeps its time (the concat filter does not tell the encoder a rate).
    return inputs, ["-filter_complex", ";".join(parts), *maps, "-fps_mode", "vfr", *_encode_args()]


# -- the side-by-side MP4 of a multi-guest live -----------------------------------
def compose_side_by_side(
    ffmpeg: str,
    inputs: list[tuple[Path, float]],
    target: Path,
    *,
    duration_s: float,
    log_path: Path,
    on_progress=None,
    on_start=None,
    timeout: float = 7200,
) -> None:
    """One 1280x720 MP4 of ``duration_s``: the host (``inputs[0]``) large on the left,
    the guests (1–5) in a column or grid on the right, each from its offset in seconds
    after the host's start (a black tile before it joins and after it leaves); the
    sound of everyone mixed. Inputs are finished per-feed MP4s; one without a sound or
    picture track is fine. Progress, errors and ``.part`` as in ``remux_feed``.
    """
    if not inputs:
        raise ReplayMediaError("empty", "no feeds to compose")
    if len(inputs) > MAX_GUESTS + 1:
        raise ValueError(f"at most {MAX_GUESTS} guests fit beside the host")
    if duration_s <= 0:
        raise ReplayMediaError("empty", "nothing to compose")
    target = Path(target)
    for path, _offset in inputs:
        if not Path(path).is_file():
            raise ReplayMediaError("missing", f"no file {path}")
    infos = [_streams(ffmpeg, f"file:{Path(path).resolve()}") for path, _ in inputs]
    for (path, _offset), info in zip(inputs, infos, strict=True):
        if not (info.video or info.audio):
            raise ReplayMediaError("ffmpeg_failed", f"nothing readable in {path}", info.log[-2000:])
    boxes = _layout(len(inputs) - 1)
    parts = [f"color=c=black:s={CANVAS_W}x{CANVAS_H}:r={CANVAS_FPS},trim=duration={duration_s:.3f}[bg]"]
    canvas = "bg"
    audio = [f"{_SILENCE},atrim=duration={duration_s:.3f}[abg]"]
    mixed = ["[abg]"]
    for index, ((_path, offset), info, (x, y, width, height)) in enumerate(
        zip(inputs, infos, boxes, strict=True)
    ):
        if offset >= 0:
            shift_v = f"setpts=PTS-STARTPTS+{offset:.3f}/TB"
            shift_a = f"asetpts=PTS-STARTPTS,{_AUDIO_FORMAT},adelay={round(offset * 1000)}:all=1"
        else:  # began before the host: its start is cut
            shift_v = f"trim=start={-offset:.3f},setpts=PTS-STARTPTS"
            shift_a = f"atrim=start={-offset:.3f},asetpts=PTS-STARTPTS,{_AUDIO_FORMAT}"
        if info.video:
            parts.append(f"[{index}:v:0]{shift_v},{_fit(width, height)}[v{index}]")
            # eof_action=pass: a guest who left shows the black canvas, not a frozen frame.
            parts.append(f"[{canvas}][v{index}]overlay=x={x}:y={y}:eof_action=pass:repeatlast=0[o{index}]")
            canvas = f"o{index}"
        if info.audio:
            audio.append(f"[{index}:a:0]{shift_a}[a{index}]")
            mixed.append(f"[a{index}]")
    parts.append(f"[{canvas}]format=yuv420p[v]")
    if len(mixed) > 1:
        # duration=first: the silent base sets the length; normalize=0: a guest joining
        # does not turn the host down.
        audio.append(
            f"{''.join(mixed)}amix=inputs={len(mixed)}:normalize=0:duration=first:dropout_transition=0[a]"
        )
    else:
        audio[0] = audio[0].replace("[abg]", "[a]")
    argv = [
        *_head(ffmpeg),
        *[arg for path, _ in inputs for arg in ("-i", f"file:{Path(path).resolve()}")],
        "-filter_complex",
        ";".join(parts + audio),
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-t",
        f"{duration_s:.3f}",
        *_encode_args(),
        "-map_metadata",
        "-1",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
    ]
    with _scratch(target):
        _run(argv, target, duration_s, log_path, on_progress, on_start, timeout, watched=None)


def _layout(guests: int) -> list[tuple[int, int, int, int]]:
    """(x, y, width, height) of the host then each guest on the 1280x720 canvas.

    Up to three guests: the host 960x720, the guests in a 320-wide column of 4:3
    tiles, centred. Four or five: the host 640x720, the guests in two columns."""
    if not 0 <= guests <= MAX_GUESTS:
        raise ValueError(f"{guests} guests")
    tile_w, tile_h = 320, 240
    columns = 1 if guests <= 3 else 2
    host_w = CANVAS_W - columns * tile_w
    rows = math.ceil(guests / columns) if guests else 0
    top = (CANVAS_H - rows * tile_h) // 2
    boxes = [(0, 0, host_w, CANVAS_H)]
    for index in range(guests):
        row, column = divmod(index, columns)
        boxes.append((host_w + column * tile_w, top + row * tile_h, tile_w, tile_h))
    return boxes


# -- shared ffmpeg plumbing ---------------------------------------------------
_AUDIO_FORMAT = "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"
_SILENCE = "anullsrc=r=48000:cl=stereo"


def _fit(width: int, height: int) -> str:
    """Scale into a box keeping the aspect ratio, black bars for the rest."""
    return (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1"
    )


def _encode_args() -> list[str]:
    return [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ac",
        "2",
        "-ar",
        "48000",
    ]


def _head(ffmpeg: str) -> list[str]:
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "warning",
        "-progress",
        "pipe:1",
        "-y",
    ]


@dataclass
class _Streams:
    video: bool
    audio: bool
    size: tuple[int, int] | None
    log: str = ""


def _streams(ffmpeg: str, url: str) -> _Streams:
    """Which tracks an input has, from ``ffmpeg -i`` (there is no ffprobe)."""
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [ffmpeg, "-hide_banner", "-nostdin", "-i", url], capture_output=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ReplayMediaError("ffmpeg_failed", f"ffmpeg could not read {url} in time") from exc
    text = result.stderr.decode(errors="replace")
    kinds = set(_STREAM_RE.findall(text))
    size = None
    for line in text.splitlines():
        if "Video:" in line:
            match = re.search(r", (\d{2,5})x(\d{2,5})", line)
            if match:
                size = (int(match.group(1)) // 2 * 2, int(match.group(2)) // 2 * 2)
            break
    return _Streams(video="Video" in kinds, audio="Audio" in kinds, size=size, log=text)


@contextmanager
def _scratch(target: Path):
    """A private folder next to the target for the joined runs, removed in every case,
    as is a ``.part`` a failure left. ENOSPC on the way becomes disk_full."""
    partial = target.with_name(target.name + ".part")
    folder = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        yield folder
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise ReplayMediaError("disk_full", str(exc)) from exc
        raise
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _join_run(run: _RecordedRun, path: Path) -> Path:
    """The run's init segment then its media segments, streamed into one fMP4."""
    with path.open("wb") as out:
        for source in (run.init, *(segment for segment, _ in run.segments)):
            _copy_into(source, out)
    return path.resolve()


def _copy_into(source: Path, out) -> None:
    with source.open("rb") as handle:
        shutil.copyfileobj(handle, out, COPY_CHUNK)


def _quote(value: str) -> str:
    """A single-quoted ffconcat string."""
    return "'" + value.replace("'", "'\\''") + "'"


def _run(argv, target: Path, duration_s, log_path: Path, on_progress, on_start, timeout, *, watched) -> None:
    partial = target.with_name(target.name + ".part")
    log_path = Path(log_path)
    try:
        log_start = log_path.stat().st_size
    except OSError:
        log_start = 0
    code = transcode.run_ffmpeg(
        [*argv, str(partial)],
        duration_s=duration_s,
        log_path=log_path,
        on_progress=on_progress,
        on_start=on_start,
        timeout=timeout,
    )
    if code != 0 or not _nonempty(partial):
        partial.unlink(missing_ok=True)
        written = transcode.log_tail(log_path, size=64_000, start=log_start)
        tail = written[-2000:]
        if _NO_SPACE in written:
            raise ReplayMediaError("disk_full", "ffmpeg ran out of disk space", tail)
        if watched is not None and not watched.is_dir():
            raise ReplayMediaError("missing", f"{watched} went away", tail)
        raise ReplayMediaError("ffmpeg_failed", f"ffmpeg exited with {code}", tail)
    os.replace(partial, target)
    if on_progress is not None:
        on_progress(100.0)


# -- thumbnail, time line, repairs --------------------------------------------------
def thumbnail(feed_dir: Path, width: int = 640) -> bytes | None:
    """A JPEG of the frame about a quarter into the recording (at least 1 s in when it
    is longer than 2 s: the first frames are often black), at most ``width`` wide.
    None when nothing decodes. Blocks ~50 ms: call it through ``run_blocking``."""
    runs = _recorded_runs(Path(feed_dir))
    if not runs:
        return None
    total = sum(run.duration for run in runs)
    wanted = total / 4
    if total > 2:
        wanted = max(wanted, 1.0)
    tries: list[tuple[Path, Path, float]] = []
    start = 0.0
    for run in runs:
        for segment, duration in run.segments:
            if not tries and wanted < start + duration:
                tries.append((run.init, segment, wanted - start))
            start += duration
    # A segment that does not decode: the start of each run instead.
    tries += [(run.init, run.segments[0][0], 0.0) for run in runs]
    for init, segment, skip in dict.fromkeys(tries):
        jpeg = frame_from_segment(init, segment, width=width, skip_s=skip)
        if jpeg is not None:
            return jpeg
    return None


def timeline(feed_dir: Path) -> list[dict]:
    """Where each run sits in wall-clock time and on the replay's time line (which has
    the gaps between runs cut out): ``{"wall_start", "replay_start", "duration"}``.

    A run's wall-clock start is its first segment's mtime less that segment's duration:
    ffmpeg finishes a segment about when its last frame arrives. Good to a second or
    so, which is what placing a chat message needs."""
    entries = []
    replay_start = 0.0
    for run in _recorded_runs(Path(feed_dir)):
        first, first_duration = run.segments[0]
        try:
            finished = first.stat().st_mtime
        except FileNotFoundError:
            continue
        entries.append(
            {"wall_start": finished - first_duration, "replay_start": replay_start, "duration": run.duration}
        )
        replay_start += run.duration
    return entries


def replay_position(timeline: list[dict], wall_time: float) -> float:
    """Seconds into the replay of a wall-clock moment: inside a run, the same place;
    in a gap between runs, the start of the next one; before the first, 0; after the
    last, the end."""
    for entry in timeline:
        if wall_time < entry["wall_start"]:
            return entry["replay_start"]
        into = wall_time - entry["wall_start"]
        if into < entry["duration"]:
            return entry["replay_start"] + into
    if not timeline:
        return 0.0
    return timeline[-1]["replay_start"] + timeline[-1]["duration"]


def finish_unterminated(feed_dir: Path) -> int:
    """After a crash: end every run playlist that has no ``#EXT-X-ENDLIST`` and delete
    the temporary files a killed ffmpeg left. Returns how many playlists were ended.

    Safe beside an ffmpeg that is still running (an orphan finishing its last segment):
    the tag is appended in place, never by writing the playlist anew, so a playlist
    ffmpeg renames over it wins and loses nothing (ffmpeg ends it itself when its input
    closes); and only temporary files untouched for TMP_STALE_S are deleted, never one
    ffmpeg is about to rename.
    """
    feed_dir = Path(feed_dir)
    if not feed_dir.is_dir():
        return 0
    now = time.time()
    for leftover in feed_dir.glob("*.tmp"):
        try:
            if now - leftover.stat().st_mtime >= TMP_STALE_S:
                leftover.unlink()
        except FileNotFoundError:
            pass
    fixed = 0
    for playlist in hls.run_playlists(feed_dir):
        try:
            with playlist.open("r+b") as handle:
                text = handle.read()
                if b"#EXT-X-ENDLIST" in text.splitlines():
                    continue
                handle.seek(0, os.SEEK_END)
                handle.write((b"" if text.endswith(b"\n") or not text else b"\n") + b"#EXT-X-ENDLIST\n")
                handle.flush()
                os.fsync(handle.fileno())
        except FileNotFoundError:
            continue
        fixed += 1
    return fixed


def directory_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (symbolic links not followed); 0 if
    it is gone. Files deleted while it counts are skipped."""
    path = Path(path)
    try:
        if path.is_file() and not path.is_symlink():
            return path.stat().st_size
    except OSError:
        return 0
    total = 0
    pending = [path]
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total

"""Ingest: one ffmpeg per feed, turning what a publisher sends into HLS fMP4.

Input is a byte stream: WebM (or Matroska) from the browser's MediaRecorder, or FLV
rebuilt by the RTMP listener. H.264 video is copied; anything else is transcoded to
H.264 with a keyframe every second; audio always becomes AAC. Segments are one second
and the whole event playlist is kept, which is what the replay is made from.

If ffmpeg dies while the publisher still sends, the next write starts a new run: the
stream's header (WebM EBML + tracks, or FLV header + sequence headers) is sent again
and data resumes at the next cluster or keyframe, so the live goes on with a
discontinuity instead of an error. ffmpeg's stderr goes to a log file per feed; its
``-progress`` output feeds the health figures.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from livelite.media import hls

log = logging.getLogger("livelite.ingest")

WEBM_CLUSTER_ID = b"\x1f\x43\xb6\x75"
FLV_AUDIO, FLV_VIDEO, FLV_SCRIPT = 8, 9, 18
# A crash loop is not a live: give up after this many restarts in a minute.
MAX_RESTARTS_PER_MINUTE = 5
# Raw FLV tags to keep before deciding the video codec (audio-only encoders exist).
FLV_PROBE_TAGS = 64
# Media needed before the bitrate limit is judged (bytes still inside ffmpeg weigh less).
LIMIT_MIN_MEDIA_S = 20.0


class IngestFailed(Exception):
    """ffmpeg cannot be kept running; the live must stop."""


@dataclass
class Health:
    """Figures for the host and admins, refreshed from ffmpeg's progress and our input."""

    input_bitrate_kbps: float = 0.0
    output_fps: float = 0.0
    output_bitrate_kbps: float = 0.0
    keyframe_interval_s: float | None = None
    media_seconds: float = 0.0
    lag_seconds: float | None = None
    speed: float | None = None
    restarts: int = 0
    updated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class _WebmResync:
    """Remembers the WebM header; after a restart, resumes at the next Cluster."""

    def __init__(self):
        self.header = bytearray()
        self.header_done = False

    def observe(self, data: bytes) -> None:
        if self.header_done:
            return
        index = data.find(WEBM_CLUSTER_ID)
        if index < 0:
            self.header += data
        else:
            self.header += data[:index]
            self.header_done = True

    def restart_prefix(self) -> bytes:
        return bytes(self.header)

    def skip_to_sync(self, data: bytes) -> bytes | None:
        index = data.find(WEBM_CLUSTER_ID)
        return None if index < 0 else data[index:]


class _FlvResync:
    """FLV arrives one tag per write (rtmp.RtmpConnection). Keep the header and the
    sequence headers; after a restart, resume at the next video keyframe."""

    def __init__(self):
        self.header = b""
        self.metadata = b""
        self.video_config = b""
        self.audio_config = b""
        self.has_video = False

    def observe(self, data: bytes) -> None:
        if data.startswith(b"FLV"):
            self.header = data
            return
        if len(data) < 13:
            return
        kind, body = data[0], data[11:]
        if kind == FLV_SCRIPT:
            self.metadata = data
        elif kind == FLV_VIDEO:
            self.has_video = True
            if len(body) > 1 and (body[0] & 0x0F) == 7 and body[1] == 0:
                self.video_config = data
        elif kind == FLV_AUDIO and len(body) > 1 and (body[0] >> 4) == 10 and body[1] == 0:
            self.audio_config = data

    def restart_prefix(self) -> bytes:
        return self.header + self.metadata + self.video_config + self.audio_config

    def skip_to_sync(self, data: bytes) -> bytes | None:
        if data.startswith(b"FLV") or len(data) < 13:
            return None
        kind, body = data[0], data[11:]
        if not self.has_video:
            return data if kind == FLV_AUDIO else None
        if kind == FLV_VIDEO and body and (body[0] >> 4) == 1:
            return data
        return None


def flv_video_codec(tag: bytes) -> str | None:
    """Codec of an FLV video tag: 7 is AVC (H.264)."""
    if len(tag) < 12 or tag[0] != FLV_VIDEO:
        return None
    codec_id = tag[11] & 0x0F
    return {7: "h264", 2: "h263", 4: "vp6", 12: "hevc"}.get(codec_id, f"flv-{codec_id}")


class FeedIngest:
    """Owns the ffmpeg process(es) of one feed. Not thread-safe: one writer at a time."""

    def __init__(
        self,
        out_dir: Path,
        *,
        input_format: str,
        video_codec: str | None,
        ffmpeg: str,
        segment_seconds: int = 1,
        on_progress=None,
        started_at: float | None = None,
    ):
        if input_format not in ("webm", "flv"):
            raise ValueError(f"unsupported input format {input_format}")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.input_format = input_format
        self.video_codec = video_codec  # None for FLV until the first video tag says
        self.ffmpeg = ffmpeg
        self.segment_seconds = segment_seconds
        self.on_progress = on_progress
        self.resync = _WebmResync() if input_format == "webm" else _FlvResync()
        self.process: subprocess.Popen | None = None
        self.health = Health()
        self.started_at = started_at or time.time()
        self.bytes_in = 0
        # Media already in the folder (earlier runs) does not count for this ingest's rate.
        self._media_at_start = hls.total_duration(self.out_dir)
        self._rate_window: deque[tuple[float, int]] = deque()
        self._restart_times: deque[float] = deque()
        self._pending: list[bytes] = []  # FLV tags held until the codec is known
        self._needs_sync = False
        self._runs = 0
        self.closed = False

    # -- public -------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.out_dir / "ffmpeg.log"

    @property
    def transcoding(self) -> bool:
        return self.video_codec not in ("h264", None)

    def write(self, data: bytes) -> None:
        """Feed publisher bytes in order. Raises IngestFailed if ffmpeg cannot run."""
        if self.closed or not data:
            return
        self._count(len(data))
        self.resync.observe(data)
        if self.process is None and self.input_format == "flv" and self.video_codec is None:
            self._pending.append(data)
            codec = flv_video_codec(data)
            if codec is None and len(self._pending) < FLV_PROBE_TAGS:
                return
            self.video_codec = codec or "none"
            data, self._pending = b"".join(self._pending), []
        if self.process is not None and self.process.poll() is not None:
            self._on_unexpected_exit()
        if self.process is None:
            self._start()
        if self._needs_sync:
            synced = self.resync.skip_to_sync(data)
            if synced is None:
                return
            self._needs_sync = False
            data = self.resync.restart_prefix() + synced
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._on_unexpected_exit()

    def new_run(self) -> None:
        """The publisher started a new recorder (a new header follows): finish this run."""
        self._stop_process()
        self.resync = _WebmResync() if self.input_format == "webm" else _FlvResync()
        self._needs_sync = False

    def finish(self, timeout: float = 20) -> None:
        """End of the live: close stdin so ffmpeg writes the last segment and ENDLIST."""
        self.closed = True
        self._stop_process(timeout)

    def kill(self) -> None:
        """For tests and emergencies: kill ffmpeg without letting it finish."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def playlist(self, ended: bool) -> str:
        return hls.compose(self.out_dir, ended=ended)

    # -- process management ----------------------------------------------
    def _count(self, size: int) -> None:
        now = time.monotonic()
        self.bytes_in += size
        self._rate_window.append((now, size))
        while self._rate_window and now - self._rate_window[0][0] > 5:
            self._rate_window.popleft()
        span = max(now - self._rate_window[0][0], 1.0)
        self.health.input_bitrate_kbps = sum(s for _, s in self._rate_window) * 8 / 1000 / span

    def input_bitrate_kbps(self) -> float:
        """What arrived in the last seconds (for the health display)."""
        return self.health.input_bitrate_kbps

    def media_bitrate_kbps(self, min_media_s: float = LIMIT_MIN_MEDIA_S) -> float | None:
        """Bytes received per second of media produced, since this ingest started.

        The limit check uses this, not the arrival rate: after a stall (a busy server,
        a publisher's hiccup) the backlog arrives in a burst, but it carries as many
        seconds of media as it took, so a steady publisher never looks too fast.
        None until there is enough media to judge.
        """
        produced = self.health.media_seconds - self._media_at_start
        if produced < min_media_s:
            return None
        return self.bytes_in * 8 / 1000 / produced

    def _command(self, run: int) -> list[str]:
        name = f"run-{run:04d}"
        if self.video_codec == "h264":
            video = ["-c:v", "copy"]
        else:
            video = [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "zerolatency",
                "-pix_fmt",
                "yuv420p",
                "-crf",
                "23",
                "-maxrate",
                "4500k",
                "-bufsize",
                "9000k",
                "-force_key_frames",
                f"expr:gte(t,n_forced*{self.segment_seconds})",
            ]
        return [
            self.ffmpeg,
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "warning",
            "-progress",
            "pipe:1",
            "-f",
            "flv" if self.input_format == "flv" else "matroska,webm",
            "-i",
            "pipe:0",
            "-map",
            "0:v:0?",
            "-map",
            "0:a:0?",
            *video,
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-f",
            "hls",
            "-hls_time",
            str(self.segment_seconds),
            "-hls_segment_type",
            "fmp4",
            "-hls_playlist_type",
            "event",
            "-hls_list_size",
            "0",
            "-hls_flags",
            "independent_segments+temp_file",
            "-hls_fmp4_init_filename",
            f"{name}-init.mp4",
            "-hls_segment_filename",
            str(self.out_dir / f"{name}-%05d.m4s"),
            str(self.out_dir / f"{name}.m3u8"),
        ]

    def _start(self) -> None:
        run = hls.next_run_number(self.out_dir)
        command = self._command(run)
        with self.log_path.open("ab") as log_file:
            log_file.write(
                f"\n== run {run} at {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(command)}\n".encode()
            )
            log_file.flush()
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file
            )
        self._runs += 1
        threading.Thread(target=self._read_progress, args=(self.process,), daemon=True).start()
        log.info("feed %s: ffmpeg run %s started (video %s)", self.out_dir.name, run, self.video_codec)

    def _on_unexpected_exit(self) -> None:
        code = self.process.poll() if self.process else None
        log.warning(
            "feed %s: ffmpeg exited (%s) while the publisher sends; restarting", self.out_dir.name, code
        )
        self._stop_process(timeout=5)
        now = time.monotonic()
        self._restart_times.append(now)
        while self._restart_times and now - self._restart_times[0] > 60:
            self._restart_times.popleft()
        if len(self._restart_times) > MAX_RESTARTS_PER_MINUTE:
            self.closed = True
            raise IngestFailed("ffmpeg keeps failing; see the feed log")
        self.health.restarts += 1
        self._needs_sync = True
        self._start()

    def _stop_process(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("feed %s: ffmpeg did not finish in %ss; killed", self.out_dir.name, timeout)
            process.kill()
            process.wait()

    def _read_progress(self, process: subprocess.Popen) -> None:
        """Parse ``-progress`` blocks (key=value lines ending with progress=...)."""
        block: dict[str, str] = {}
        for raw in process.stdout:
            line = raw.decode(errors="replace").strip()
            key, _, value = line.partition("=")
            block[key] = value
            if key != "progress":
                continue
            self._apply_progress(block)
            block = {}
        process.stdout.close()

    def _apply_progress(self, block: dict[str, str]) -> None:
        health = self.health
        try:
            health.output_fps = float(block.get("fps", 0) or 0)
        except ValueError:
            pass
        bitrate = block.get("bitrate", "").replace("kbits/s", "")
        try:
            health.output_bitrate_kbps = float(bitrate)
        except ValueError:
            pass
        try:
            health.speed = float(block.get("speed", "").rstrip("x"))
        except ValueError:
            pass
        fps = hls.recent_frame_rate(self.out_dir)
        if fps is not None:
            health.output_fps = fps
        runs = hls.feed_runs(self.out_dir)
        health.media_seconds = sum(s.duration for run in runs for s in run.segments)
        if runs and runs[-1].segments:
            recent = runs[-1].segments[-5:]
            health.keyframe_interval_s = sum(s.duration for s in recent) / len(recent)
        health.lag_seconds = max(0.0, (time.time() - self.started_at) - health.media_seconds)
        health.updated_at = time.time()
        if self.on_progress is not None:
            self.on_progress(health)

#!/usr/bin/env python
"""How many HLS viewers the app serves, next to nginx serving the same files.

    python bench/hls_delivery.py [--viewers 50,200,500] [--seconds 15]
        [--targets app,nginx,app-long,accel] [--quiet-wait 0] [--max-ingest-kbps N]

The script starts its own ``python app.py`` in a temporary instance folder (free ports,
127.0.0.1 only), creates an admin with ``flask create-user`` and pushes a 720p30 H.264
stream at 2.5 Mbit/s (CBR-ish: ``-b:v 2500k -maxrate 2500k -bufsize 5000k``, a keyframe
every second, AAC 128k) to the app's RTMP listener with ``ffmpeg -re``. The push loops a
short clip encoded beforehand (``-stream_loop -1 -c copy``) so the encoder costs almost
no CPU on the machine under test. The RTMP publish starts a public live.

Viewers behave like hls.js on a live playlist: one keep-alive HTTP/1.1 connection each;
fetch the playlist, start three segments from the live edge (hls.js's
``liveSyncDurationCount``), fetch the init segment, then download each new segment once,
one at a time, and reload the playlist every target duration (1 s). Viewers join evenly
over a ramp (``RAMP_S`` at most); figures count the requests that ended inside the
measuring window that follows.

Targets:

* ``app``: the app itself (``/lives/<id>/feeds/<feed>/index.m3u8`` and segments, the
  visibility check on every request, ``send_file``).
* ``nginx``: Debian's nginx started by this script (``nginx -p DIR -c DIR/nginx.conf``,
  ``daemon off``, run as root, ``worker_processes auto``, sendfile) serving the feed's
  directory: the playlist is the run's own ``run-NNNN.m3u8`` (written by ffmpeg; same
  segments as the app's composed playlist), the segments the same files.
* ``app-long``: the app again, with the live made to look ``--long-hours`` old (an
  earlier run of that many one-second segments is written into the feed's folder, as
  after a restart): its playlist lists every segment since the start and is rebuilt on
  every request, so it costs more to build and to send as the live gets older.
* ``accel``: the documented production setup: the app restarted with
  ``LIVELITE_X_ACCEL_REDIRECT_PREFIX=/protected-media/`` behind nginx (``proxy_pass``
  with upstream keep-alive); the app still composes the playlist and checks every
  request, nginx sends the segment bytes from an ``internal`` location. A new push, so
  a new live, in the same instance.

Per target and number of viewers: requests/s, MB/s, playlist and segment fetch times
(p50/p99, from sending the request to the last byte), ``late`` (segment fetches that
took longer than the segment lasts: a viewer doing that for long stalls), ``behind``
(viewers more than 3 segments behind the live edge at the end), errors (non-200 answers,
resets, 10 s timeouts), and the CPU of the server processes, of this client and of the
rest of the machine (% of one core). The client runs on the same 2 cores as the
servers: its own CPU is shown so a client-bound figure is visible as such. ``ingest``
is how many media seconds the live gained per wall second during the window (1.00: the
live keeps real time; the RTMP listener and the ingest run in the app's process, so a
busy app can starve its own live). If the app ends the live during a level (for
instance for ``bitrate``), the level says so and the next level starts on a new live
(the push is restarted). ``--max-ingest-kbps`` raises the app's bitrate check to tell
the two effects apart. The app's own CPU with the live on and no viewer is printed
first.

Also printed: the playlist's size and the time ``hls.compose`` takes for a live that has
been running 1 h and 4 h (the feed's playlist lists every segment since the start and
is rebuilt on every request).

nginx is needed for the nginx and accel targets (``apt-get install -y nginx`` or
``nginx-light``); without it those targets are skipped. The exit status is non-zero
only when the measurement itself fails.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import imageio_ffmpeg  # noqa: E402

from livelite.config import DefaultConfig  # noqa: E402
from livelite.media import hls  # noqa: E402

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CLK_TCK = os.sysconf("SC_CLK_TCK")
RAMP_S = 5.0
REQUEST_TIMEOUT_S = 10.0
LIVE_SYNC_SEGMENTS = 3
BEHIND_SEGMENTS = 3
USER = ("benchhost", "bench-password-1")
ACCEL_PREFIX = "/protected-media/"


# -- processes ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Stop one process we started (by its own pid only)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@dataclass
class App:
    url: str
    port: int
    rtmp_port: int
    env: dict
    process: subprocess.Popen
    instance: Path

    def cli(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"flask {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def get_json(self, path: str):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status}")
            return json.loads(body)
        finally:
            connection.close()


def app_env(instance: Path, port: int, rtmp_port: int, extra: dict | None = None) -> dict:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LIVELITE_") and k != "DATABASE_URL"}
    return {
        **inherited,
        "LIVELITE_INSTANCE_PATH": str(instance),
        "LIVELITE_HOST": "127.0.0.1",
        "LIVELITE_PORT": str(port),
        "LIVELITE_RTMP_HOST": "127.0.0.1",
        "LIVELITE_RTMP_PORT": str(rtmp_port),
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


def start_app(instance: Path, log_path: Path, extra: dict | None = None) -> App:
    port, rtmp_port = free_port(), free_port()
    env = app_env(instance, port, rtmp_port, extra)
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    app = App(f"http://127.0.0.1:{port}", port, rtmp_port, env, process, instance)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}; see {log_path}")
        try:
            if app.get_json("/healthz").get("status") == "ok":
                return app
        except (OSError, RuntimeError, ValueError, http.client.HTTPException):
            pass
        time.sleep(0.3)
    stop_process(process)
    raise RuntimeError(f"the app did not answer /healthz in 60 s; see {log_path}")


def encode_clip(path: Path, seconds: int) -> None:
    """A short OBS-like clip: 720p30 H.264 at 2.5 Mbit/s, keyframe every second, AAC."""
    command = [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=8:allf=t+u",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-t", str(seconds), "-ac", "2",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "5000k",
        "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "128k", "-f", "flv", str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=600)  # noqa: S603 - fixed argv


def start_push(clip: Path, app: App, key: str, log_path: Path) -> subprocess.Popen:
    command = [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(clip),
        "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{app.rtmp_port}/live/{key}",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)  # noqa: S603


@dataclass
class LiveFeed:
    live_id: int
    feed_id: int
    playlist_path: str
    feed_dir: Path


def wait_for_live(app: App, segments: int, timeout: float = 60) -> LiveFeed:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lives = [live for live in app.get_json("/api/v1/lives") if live.get("status") == "live"]
        if lives and lives[0]["feeds"]:
            live = lives[0]
            feed = live["feeds"][-1]
            feed_dir = app.instance / "media" / "lives" / str(live["id"]) / f"feed-{feed['id']}"
            if hls.feed_runs(feed_dir) and len(hls.feed_runs(feed_dir)[-1].segments) >= segments:
                return LiveFeed(live["id"], feed["id"], feed["playlist_url"], feed_dir)
        time.sleep(0.5)
    raise RuntimeError(f"no live with {segments} segments after {timeout} s")


NGINX_COMMON = """
worker_processes auto;
daemon off;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp4 mp4;
        video/iso.segment m4s;
    }}
    {server}
}}
"""

NGINX_STATIC = """
    server {{
        listen 127.0.0.1:{port};
        location = /hls/index.m3u8 {{
            alias {playlist};
            add_header Cache-Control no-store;
        }}
        location /hls/ {{
            alias {feed_dir}/;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
    }}
"""

NGINX_ACCEL = """
    upstream livelite {{
        server 127.0.0.1:{app_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://livelite;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
        location {prefix} {{
            internal;
            alias {media_root}/;
        }}
    }}
"""


def start_nginx(tmp: Path, server_block: str, port: int) -> subprocess.Popen:
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_COMMON.format(tmp=tmp, server=server_block))
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "stderr.log").open("ab"),
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {(tmp / 'stderr.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    stop_process(process, signal.SIGQUIT)
    raise RuntimeError("nginx did not listen in 10 s")


# -- CPU ---------------------------------------------------------------------------
def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def system_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- viewers -----------------------------------------------------------------------
class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, keep_body: bool) -> tuple[int, int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUser-Agent: bench-hls\r\n"
            f"Accept: */*\r\nConnection: keep-alive\r\n\r\n".encode()
        )
        status_line = await self.reader.readline()
        if not status_line:
            raise HttpError("connection closed")
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.lower() == "close":
                close = True
        body = bytearray()
        size = 0
        if chunked:
            while True:
                chunk_size = int((await self.reader.readline()).split(b";")[0], 16)
                if chunk_size == 0:
                    await self.reader.readline()
                    break
                data = await self.reader.readexactly(chunk_size + 2)
                size += chunk_size
                if keep_body:
                    body += data[:-2]
        elif length is not None:
            remaining = length
            while remaining:
                data = await self.reader.read(min(remaining, 1 << 20))
                if not data:
                    raise HttpError("body cut short")
                remaining -= len(data)
                if keep_body:
                    body += data
            size = length
        else:
            close = True
            while data := await self.reader.read(1 << 20):
                size += len(data)
                if keep_body:
                    body += data
        if close:
            self.close()
        return status, size, bytes(body)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Event:
    kind: str  # playlist, init, segment
    start: float
    end: float
    size: int
    ok: bool
    error: str | None = None


@dataclass
class Viewer:
    events: list[Event] = field(default_factory=list)
    behind: int = 0
    started: bool = False


def parse_playlist(text: str) -> tuple[str | None, int, list[str]]:
    """The init segment, the media sequence number of the first segment, the segments.

    The media sequence matters for the app's sliding-window live playlist: the list
    keeps its length while it moves, so a client must count segments by sequence
    number (as hls.js does), not by the playlist growing.
    """
    init, sequence, segments = None, 0, []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line and not line.startswith("#"):
            segments.append(line)
    return init, sequence, segments


async def fetch(conn: Connection, viewer: Viewer, kind: str, path: str, keep_body: bool) -> bytes | None:
    start = time.monotonic()
    try:
        status, size, body = await asyncio.wait_for(conn.get(path, keep_body), REQUEST_TIMEOUT_S)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, HttpError, ValueError, IndexError) as exc:
        conn.close()
        viewer.events.append(Event(kind, start, time.monotonic(), 0, False, type(exc).__name__))
        return None
    ok = status == 200
    viewer.events.append(Event(kind, start, time.monotonic(), size, ok, None if ok else f"HTTP {status}"))
    return body if ok else None


async def run_viewer(port: int, playlist: str, viewer: Viewer, delay: float, stop_at: float) -> None:
    await asyncio.sleep(delay)
    base = playlist.rsplit("/", 1)[0] + "/"
    conn = Connection(port)
    next_index: int | None = None
    init_done = False
    try:
        while time.monotonic() < stop_at:
            loaded_at = time.monotonic()
            body = await fetch(conn, viewer, "playlist", playlist, True)
            if body is not None:
                viewer.started = True
                init, sequence, segments = parse_playlist(body.decode(errors="replace"))
                newest = sequence + len(segments)  # one past the newest segment's number
                if next_index is None:
                    next_index = max(sequence, newest - LIVE_SYNC_SEGMENTS)
                # Fell out of the window (stalled too long): jump forward, like hls.js.
                next_index = max(next_index, sequence)
                if init and not init_done:
                    init_done = await fetch(conn, viewer, "init", base + init, False) is not None
                while next_index < newest and time.monotonic() < stop_at:
                    viewer.behind = newest - next_index
                    got = await fetch(conn, viewer, "segment", base + segments[next_index - sequence], False)
                    if got is None:
                        break  # retried after the next playlist load, like hls.js
                    next_index += 1
                viewer.behind = newest - next_index
            else:
                await asyncio.sleep(0.5)
            # hls.js reloads a live playlist every target duration.
            await asyncio.sleep(max(0.0, loaded_at + 1.0 - time.monotonic()))
    finally:
        conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class LevelResult:
    target: str
    viewers: int
    seconds: float
    requests_per_s: float
    mb_per_s: float
    playlist_p50_ms: float
    playlist_p99_ms: float
    segment_p50_ms: float
    segment_p99_ms: float
    segments: int
    late_pct: float
    behind: int
    errors: int
    error_kinds: dict
    server_cpu_pct: float
    server_cpu_detail: str
    client_cpu_pct: float
    other_cpu_pct: float
    mean_segment_kb: float
    ingest_speed: float
    live_ended: str | None = None

    def as_dict(self) -> dict:
        return self.__dict__


async def run_level_async(port: int, playlist: str, viewers: int, ramp: float, seconds: float, measure):
    start = time.monotonic()
    window_start = start + ramp + 1.0
    stop_at = window_start + seconds
    crowd = [Viewer() for _ in range(viewers)]
    tasks = [
        asyncio.create_task(run_viewer(port, playlist, v, ramp * i / max(1, viewers), stop_at))
        for i, v in enumerate(crowd)
    ]
    await asyncio.sleep(max(0.0, window_start - time.monotonic()))
    before = measure()
    await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
    after = measure()
    # Requests still in flight do not count: give them a moment, then stop.
    _done, pending = await asyncio.wait(tasks, timeout=2)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return crowd, window_start, stop_at, before, after


def run_level(
    target: str, port: int, playlist: str, viewers: int, seconds: float, server_pids, feed_dir: Path
) -> LevelResult:
    ramp = min(RAMP_S, viewers / 100)

    def measure():
        pids = server_pids()
        servers = {name: cpu_seconds(p) for name, p in pids.items()}
        return (
            time.monotonic(),
            servers,
            self_cpu_seconds(),
            system_busy_seconds(),
            hls.total_duration(feed_dir),
        )

    crowd, window_start, stop_at, before, after = asyncio.run(
        run_level_async(port, playlist, viewers, ramp, seconds, measure)
    )
    span = after[0] - before[0]
    events = [e for v in crowd for e in v.events if window_start <= e.end <= stop_at]
    ok = [e for e in events if e.ok]
    playlists = [1000 * (e.end - e.start) for e in ok if e.kind == "playlist"]
    segments = [1000 * (e.end - e.start) for e in ok if e.kind == "segment"]
    errors = [e for e in events if not e.ok]
    kinds: dict[str, int] = {}
    for e in errors:
        kinds[e.error or "?"] = kinds.get(e.error or "?", 0) + 1
    server_pct = {name: 100 * (after[1][name] - before[1][name]) / span for name in after[1]}
    client_pct = 100 * (after[2] - before[2]) / span
    total_pct = 100 * (after[3] - before[3]) / span
    segment_sizes = [e.size for e in ok if e.kind == "segment"]
    return LevelResult(
        target=target,
        viewers=viewers,
        seconds=span,
        requests_per_s=len(events) / span,
        mb_per_s=sum(e.size for e in ok) / span / 1e6,
        playlist_p50_ms=percentile(playlists, 50),
        playlist_p99_ms=percentile(playlists, 99),
        segment_p50_ms=percentile(segments, 50),
        segment_p99_ms=percentile(segments, 99),
        segments=len(segments),
        late_pct=100 * sum(1 for s in segments if s > 1000) / len(segments) if segments else float("nan"),
        behind=sum(1 for v in crowd if v.behind > BEHIND_SEGMENTS or not v.started),
        errors=len(errors),
        error_kinds=kinds,
        server_cpu_pct=sum(server_pct.values()),
        server_cpu_detail=" + ".join(f"{name} {pct:.0f} %" for name, pct in server_pct.items()),
        client_cpu_pct=client_pct,
        other_cpu_pct=max(0.0, total_pct - sum(server_pct.values()) - client_pct),
        mean_segment_kb=statistics.mean(segment_sizes) / 1000 if segment_sizes else float("nan"),
        ingest_speed=(after[4] - before[4]) / span,
    )


# -- playlist growth -----------------------------------------------------------------
def write_run(feed_dir: Path, number: int, count: int, ended: bool) -> list[Path]:
    """An ffmpeg-like run playlist of ``count`` one-second segments, with empty files for
    its init and segments so the directory holds as many entries as a real one."""
    feed_dir.mkdir(parents=True, exist_ok=True)
    name = f"run-{number:04d}"
    created = [feed_dir / f"{name}-init.mp4"]
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-MAP:URI="{name}-init.mp4"',
    ]
    for index in range(count):
        lines += ["#EXTINF:1.000000,", f"{name}-{index:05d}.m4s"]
        created.append(feed_dir / f"{name}-{index:05d}.m4s")
    if ended:
        lines.append("#EXT-X-ENDLIST")
    for path in created:
        path.touch()
    playlist = feed_dir / f"{name}.m3u8"
    playlist.write_text("\n".join(lines) + "\n")
    return [playlist, *created]


def playlist_growth(directory: Path, window: int) -> list[tuple[str, int, float]]:
    """(label, bytes, ms per compose) of the live viewers' playlist (the sliding window the
    app serves) for a feed whose live run is 1 h and 4 h long; cached composes, as every
    viewer after the first gets within the same second."""
    rows = []
    for label, count in (("1 h", 3600), ("4 h", 14400)):
        feed = directory / f"growth-{count}"
        write_run(feed, 1, count, ended=False)
        body = hls.compose(feed, ended=False, window=window)
        repeats = 10
        started = time.perf_counter()
        for _ in range(repeats):
            hls.compose(feed, ended=False, window=window)
        rows.append((label, len(body.encode()), 1000 * (time.perf_counter() - started) / repeats))
    return rows


# -- main ----------------------------------------------------------------------------
def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} CPUs ({model}), load average {load:.2f}, {time.strftime('%Y-%m-%d %H:%M %Z')}"


LABELS = {
    "app": "app (send_file)",
    "nginx": "nginx static",
    "app-long": "app, live 1 h old",
    "accel": "nginx → app, X-Accel-Redirect",
}


def print_results(results: list[LevelResult]) -> None:
    header = (
        "| target | viewers | req/s | MB/s | playlist p50 / p99 | segment p50 / p99 | late | behind "
        "| errors | ingest | live ended | server CPU | client CPU | other |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in results:
        print(
            f"| {LABELS[r.target]} | {r.viewers} | {r.requests_per_s:.0f} | {r.mb_per_s:.1f} "
            f"| {r.playlist_p50_ms:.0f} / {r.playlist_p99_ms:.0f} ms "
            f"| {r.segment_p50_ms:.0f} / {r.segment_p99_ms:.0f} ms | {r.late_pct:.1f} % "
            f"| {r.behind} | {r.errors} | {r.ingest_speed:.2f}× | {r.live_ended or 'no'} "
            f"| {r.server_cpu_pct:.0f} % "
            f"| {r.client_cpu_pct:.0f} % "
            f"| {r.other_cpu_pct:.0f} % |"
        )
    details = [r for r in results if r.error_kinds or "+" in r.server_cpu_detail]
    for r in details:
        extra = f"; errors {r.error_kinds}" if r.error_kinds else ""
        print(f"  {r.target} {r.viewers}: server CPU {r.server_cpu_detail}{extra}")
    by_key = {(r.target, r.viewers): r for r in results}
    ratios = []
    for r in results:
        ref = by_key.get(("nginx", r.viewers))
        if r.target != "nginx" and ref and ref.mb_per_s:
            ratios.append(
                f"  {r.target} / nginx at {r.viewers} viewers: MB/s {r.mb_per_s / ref.mb_per_s:.2f}, "
                f"segment p50 {r.segment_p50_ms / ref.segment_p50_ms:.1f}×, "
                f"p99 {r.segment_p99_ms / ref.segment_p99_ms:.1f}×, "
                f"server CPU per MB {(r.server_cpu_pct / r.mb_per_s) / (ref.server_cpu_pct / ref.mb_per_s):.1f}×"
            )
    if ratios:
        print("\nRatios (app-side / nginx):")
        print("\n".join(ratios))


def wait_for_quiet(limit_s: float, max_pct: float = 30.0) -> None:
    """Wait (at most ``limit_s``) until the rest of the machine uses under ``max_pct`` % of a core."""
    deadline = time.monotonic() + limit_s
    while True:
        busy, own, started = system_busy_seconds(), self_cpu_seconds(), time.monotonic()
        time.sleep(3)
        span = time.monotonic() - started
        other = 100 * ((system_busy_seconds() - busy) - (self_cpu_seconds() - own)) / span
        if other < max_pct or time.monotonic() > deadline:
            if other >= max_pct:
                print(f"  (the machine is still busy: {other:.0f} % of a core used by other programs)")
            return


def inject_long_run(feed_dir: Path, hours: float) -> list[Path]:
    """Make the feed look ``hours`` old: an earlier ffmpeg run (``run-0000``, as after a
    restart) of that many one-second segments. The composed playlist then lists them
    before the live run, as after ``hours`` of a live; viewers start at the live edge."""
    return write_run(feed_dir, 0, round(hours * 3600), ended=True)


class Stage:
    """The app, its publisher and the live being watched; restarts the push when the app
    ends the live (a live that ends during a level is reported with that level)."""

    def __init__(self, tmp: Path, clip: Path, key: str, extra_env: dict):
        self.tmp, self.clip, self.key, self.extra_env = tmp, clip, key, extra_env
        self.app: App | None = None
        self.push: subprocess.Popen | None = None
        self.feed: LiveFeed | None = None
        self.link = tmp / "current-feed"
        self.restarts: list[tuple[int, str, str | None]] = []

    def start(self, env: dict | None = None, log_name: str = "app.log") -> None:
        self.app = start_app(self.tmp / "instance", self.tmp / log_name, {**self.extra_env, **(env or {})})
        self.ensure_live()

    def ensure_live(self) -> None:
        if self.feed is not None:
            status, reason = self.live_status()
            if status == "live" and self.push.poll() is None:
                return
            print(
                f"Live {self.feed.live_id}: {status} ({reason}); publisher exit code {self.push.poll()}; "
                "starting a new live.",
                flush=True,
            )
            self.restarts.append((self.feed.live_id, status, reason))
        stop_process(self.push)
        self.push = start_push(self.clip, self.app, self.key, self.tmp / "push.log")
        self.feed = wait_for_live(self.app, 6)
        self.link.unlink(missing_ok=True)
        self.link.symlink_to(self.feed.feed_dir)
        print(f"Live {self.feed.live_id} is on ({self.feed.playlist_path}).", flush=True)

    def live_status(self) -> tuple[str, str | None]:
        live = self.app.get_json(f"/api/v1/lives/{self.feed.live_id}")
        return live["status"], live.get("end_reason")

    def idle_cpu(self, seconds: float = 5.0) -> float:
        """The app's CPU (% of a core) with the live on and nobody watching: the ingest."""
        before, started = cpu_seconds(descendants(self.app.process.pid)), time.monotonic()
        time.sleep(seconds)
        after = cpu_seconds(descendants(self.app.process.pid))
        return 100 * (after - before) / (time.monotonic() - started)

    def app_pids(self) -> dict:
        return {"app": descendants(self.app.process.pid)}

    def stop(self) -> None:
        stop_process(self.push)
        if self.app is not None:
            stop_process(self.app.process)
        self.push = self.app = self.feed = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--viewers", default="50,200,500", help="comma-separated viewer counts")
    parser.add_argument("--seconds", type=float, default=15, help="measuring window per level (default 15)")
    parser.add_argument(
        "--targets", default="app,nginx,app-long,accel", help="app, nginx, app-long, accel (comma-separated)"
    )
    parser.add_argument("--long-hours", type=float, default=1.0, help="age of the live for app-long (1)")
    parser.add_argument("--long-viewers", default="50", help="viewer counts for app-long (50)")
    parser.add_argument(
        "--max-ingest-kbps",
        type=int,
        help="set the app's MAX_INGEST_KBPS (default: the app's own, 8000) to tell delivery from the "
        "bitrate check",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0,
        help="before each level, wait up to this many seconds for other programs to go quiet",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    levels = [int(v) for v in args.viewers.split(",")]
    long_levels = [int(v) for v in args.long_viewers.split(",")]
    targets = [t.strip() for t in args.targets.split(",")]
    unknown = set(targets) - set(LABELS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}")
    if not Path(NGINX).exists() and {"nginx", "accel"} & set(targets):
        print("nginx not found (apt-get install -y nginx): the nginx targets are skipped.")
        targets = [t for t in targets if t not in ("nginx", "accel")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    extra_env = {}
    if args.max_ingest_kbps:
        extra_env["LIVELITE_MAX_INGEST_KBPS"] = str(args.max_ingest_kbps)

    print(f"Machine: {machine()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="livelite-hls-"))
    results: list[LevelResult] = []
    stage: Stage | None = None
    nginx = None
    notes: list[str] = []

    def measure_levels(target, counts, port, playlist_of, pids):
        for viewers in counts:
            stage.ensure_live()
            if args.quiet_wait:
                wait_for_quiet(args.quiet_wait)
            print(f"{LABELS[target]}, {viewers} viewers…", flush=True)
            result = run_level(target, port, playlist_of(), viewers, args.seconds, pids, stage.link)
            status, reason = stage.live_status()
            if status != "live":
                result.live_ended = reason or status
            results.append(result)
            print_last(results)
            time.sleep(1)

    try:
        clip = tmp / "clip.flv"
        print("Encoding a 10 s 720p30 clip at 2.5 Mbit/s…", flush=True)
        encode_clip(clip, 10)
        print(f"  {clip.stat().st_size * 8 / 10 / 1000:.0f} kbit/s", flush=True)
        probe = app_env(tmp / "instance", 0, 0)
        subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "flask", "--app", "app", "create-user", USER[0],
             "--email", "bench@example.com", "--password", USER[1], "--birthdate", "1990-01-01", "--admin"],
            cwd=REPO_ROOT, env=probe, check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        key = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "flask", "--app", "app", "stream-key", USER[0]],
            cwd=REPO_ROOT, env=probe, check=True, capture_output=True, text=True, timeout=120,
        ).stdout.strip()  # fmt: skip
        stage = Stage(tmp, clip, key, extra_env)

        if {"app", "nginx", "app-long"} & set(targets):
            stage.start()
            idle = stage.idle_cpu()
            notes.append(
                f"app process (with its ingest ffmpeg) while the live runs and nobody watches: {idle:.0f} %"
            )
            print(notes[-1], flush=True)
            if "app" in targets:
                measure_levels(
                    "app", levels, stage.app.port, lambda: stage.feed.playlist_path, stage.app_pids
                )
            if "nginx" in targets:
                port = free_port()
                block = NGINX_STATIC.format(
                    port=port, playlist=stage.link / "run-0001.m3u8", feed_dir=stage.link
                )
                nginx = start_nginx(tmp / "nginx-static", block, port)
                nginx_pids = lambda: {"nginx": descendants(nginx.pid)}  # noqa: E731
                measure_levels("nginx", levels, port, lambda: "/hls/index.m3u8", nginx_pids)
                stop_process(nginx, signal.SIGQUIT)
                nginx = None
            if "app-long" in targets:
                stage.ensure_live()
                injected = inject_long_run(stage.feed.feed_dir, args.long_hours)
                size = len(app_get(stage.app.port, stage.feed.playlist_path))
                print(
                    f"The playlist now lists {args.long_hours:g} h more ({size / 1000:.0f} kB).", flush=True
                )
                measure_levels(
                    "app-long", long_levels, stage.app.port, lambda: stage.feed.playlist_path, stage.app_pids
                )
                for path in injected:
                    path.unlink(missing_ok=True)
            stage.stop()

        if "accel" in targets:
            stage.start({"LIVELITE_X_ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX}, "app-accel.log")
            port = free_port()
            block = NGINX_ACCEL.format(
                port=port, app_port=stage.app.port, prefix=ACCEL_PREFIX, media_root=tmp / "instance" / "media"
            )
            nginx = start_nginx(tmp / "nginx-accel", block, port)
            both = lambda: {**stage.app_pids(), "nginx": descendants(nginx.pid)}  # noqa: E731
            measure_levels("accel", levels, port, lambda: stage.feed.playlist_path, both)

        growth = playlist_growth(tmp / "growth", DefaultConfig.LIVE_PLAYLIST_SEGMENTS)
    finally:
        stop_process(nginx, signal.SIGQUIT)
        if stage is not None:
            stage.stop()
        if args.keep:
            print(f"Kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"Machine: {machine()}")
    print(
        f"Each level: viewers join over min({RAMP_S:.0f} s, viewers/100 s), then {args.seconds:.0f} s "
        f"measured; late = segment fetch > 1 s; behind = viewers > {BEHIND_SEGMENTS} segments "
        "behind the live edge at the end; ingest = media seconds the live gained per wall second "
        "during the window; live ended = the app ended the live during the level (reason). "
        "CPU in % of one core.\n"
    )
    print_results(results)
    for note in notes:
        print(f"\n{note}")
    if stage is not None and stage.restarts:
        print("\nLives the app ended during the run (live id, status, reason):", stage.restarts)
    print(
        "\nThe live viewers' playlist as a live gets longer (sliding window of "
        f"{DefaultConfig.LIVE_PLAYLIST_SEGMENTS} segments; hls.compose, cached):"
    )
    for label, size, ms in growth:
        print(f"  after {label}: {size / 1000:.0f} kB per playlist load, {ms:.1f} ms to compose")
    if args.json:
        args.json.write_text(
            json.dumps({"levels": [r.as_dict() for r in results], "playlist_growth": growth}, indent=2)
        )
    return 0


def app_get(port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().read()
    finally:
        connection.close()


def print_last(results: list[LevelResult]) -> None:
    r = results[-1]
    print(
        f"  {r.requests_per_s:.0f} req/s, {r.mb_per_s:.1f} MB/s, segment p50 {r.segment_p50_ms:.0f} ms "
        f"p99 {r.segment_p99_ms:.0f} ms, late {r.late_pct:.1f} %, behind {r.behind}, errors {r.errors}, "
        f"ingest {r.ingest_speed:.2f}×, server {r.server_cpu_pct:.0f} %, client {r.client_cpu_pct:.0f} %, "
        f"other {r.other_cpu_pct:.0f} %" + (f", LIVE ENDED ({r.live_ended})" if r.live_ended else ""),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Soak: thousands of Socket.IO clients and hundreds of HLS viewers on one live, for minutes.

    python bench/soak.py [--sockets 2000] [--hls 500] [--minutes 10] [--chat-rate 2]
        [--likes-rate 20] [--processes 1] [--workers 4] [--wave 100] [--keep] [--json PATH]

What it asks: does the site hold a big live for a long time without errors and without
its memory creeping up? Issue 9's goal: 2000 sockets and 500 HLS viewers for 10 minutes
with no error and server memory growing less than 10 % after the ramp-up.

**The site.** The script starts its own ``python app.py`` in a temporary instance folder
(SQLite, free ports on 127.0.0.1) with ``LIVELITE_MAX_CONNECTIONS`` raised to fit every
connection (at least the default 10 000; ``serve`` sizes eventlet's pool and the
open-file limit from it). With ``--processes N`` (N > 1) it starts a ``redis-server`` of
its own (no persistence) and N processes on the same instance and Redis: one ingest
process (``LIVELITE_INGEST=true``, RTMP) and N − 1 web processes (``LIVELITE_INGEST=false``,
RTMP off), as docs/deploy.md runs them behind nginx; clients are spread over the
processes round-robin, sockets and HLS viewers alike (no nginx: every client talks to one
process directly). Nothing of the app is changed: the chat and hearts limits per person
are the shipped defaults.

**The live.** ``bench/chat.py --setup-livelite`` (app context, no server) registers the
host (the first account, so admin), starts a public live and makes the accounts that
chat and send hearts, each with a read+write API token. ``flask stream-key`` gives the
host's key, and ``ffmpeg -re`` pushes a 720p30 2.5 Mbit/s clip encoded beforehand, looped
with ``-c copy``, to the ingest process's RTMP listener (``bench/hls_delivery.py``'s
``encode_clip`` and ``start_push``): the push becomes the live's feed.

**The crowd.** Socket clients are chat.py's raw Engine.IO 4 / Socket.IO 5 WebSocket
clients (epoll, no polling, they answer pings), joined to ``/live`` of that live:

* receivers (most of them): anonymous visitors that only receive; spread over
  ``--workers`` processes, they connect in waves (``--wave`` at a time, each wave
  waiting for its joins to be answered) after the senders;
* chatters: ``chat_send`` at ``--chat-rate`` messages a second in all, round-robin over
  ``max(4, ceil(rate / 0.25))`` accounts, so each sends at most half the per-person
  limit (``CHAT_MESSAGES_PER_10S``, 5 per 10 s); each body carries its send time;
* likers: ``like`` ``{count: 1}`` at ``--likes-rate`` a second in all, round-robin over
  ``max(4, ceil(rate))`` accounts (one a second each; the limit is 20 hearts a second).

HLS viewers are hls_delivery.py's hls.js-like viewers (one keep-alive connection each;
playlist every second, each new segment once, starting three segments from the live
edge), one asyncio process, joining over min(5 s, viewers/100 s). They start first and
run the whole time; then the sockets connect (the ramp-up); then the soak proper lasts
``--minutes``, followed by one more window in which nothing is sent (the drain: the last
messages get their time to arrive).

**Sampling.** Every 10 s on one clock (windows): each server process's RSS (the Python
process), CPU (% of one core, its ffmpeg included) and open file descriptors; Redis's;
the client processes' CPU and the rest of the machine's; the live's status and viewer
count from ``GET /api/v1/lives/<id>`` (asked of the last process, in a thread of its
own, 10 s timeout as for the HLS viewers); media seconds the live's feed gained per wall
second (the ingest keeping real time: 1.00×); the socket clients still connected; for
chat, messages sent in the window, acknowledged ``ok``, delivered/expected (expected = ok
× receivers connected) and the delivery latency (receiver's ``time.time()`` at arrival
minus the stamp in the body; one machine, one clock) p50/p99 and the acknowledgement
time; hearts sent and acknowledged; HLS playlist and segment fetch time (request to last
byte) p50/p99, requests a second, viewers more than 3 segments behind.

**Errors** (the goal is none): socket clients that failed to join or were disconnected;
acknowledgements refusing anything other than ``rate_limited`` (those are shown apart);
actions without an acknowledgement a whole window later; chat deliveries missing a
window after the send; HLS answers other than 200, resets and 10 s timeouts; HLS viewers
that stopped; the status request failing; the live ending; a server or the publisher
exiting. Errors are counted over the whole run, ramp-up and drain included.

**Output.** A line per window as it completes, then a table per minute (the ramp-up on
its own row) and a summary: total errors by kind, server RSS at the end of the ramp-up
and at the end with the growth (%; goal < 10 %), p50/p99 over the soak (chat delivery,
acks, HLS playlist and segment), server CPU, the ingest's slowest window. With four
windows or more the growth over the second half of the soak is printed too: memory that
rises early and then levels off (caches, the preview thread pool below) shows there as
a small figure, a leak as about half the whole growth. ``--json PATH`` writes the windows,
the minutes and the summary.

Memory warms up for minutes whatever the load: the ingest process cuts a preview every
10 s with OpenCV in eventlet's thread pool (``tpool``, 20 threads), and each pool thread
keeps one more epoll descriptor (an eventlet hub, it seems) and several MB once it has
run one. With 10 sockets, no HLS viewer and no chat, the app went from 217 MB to
323 MB and 28 to 46 descriptors in the first 200 s (20 previews), reached 360 MB at
290 s and stayed at 356–362 MB for the last 90 s of a 6-minute run. ``frame_from_segment``
called 120 times through ``tpool`` outside the app: +100 MB with the default pool,
+10 MB with ``EVENTLET_THREADPOOL_SIZE=2``, nothing when called directly.

Clients and servers share the machine (2 cores here): the clients' CPU is shown so that
a client-bound figure shows as such. The exit status is non-zero only when the
measurement itself fails (a server or the live does not come up, a client process stops
answering); errors of the site under test are reported, not turned into an exit status.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import http.client
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import chat as chat_bench  # noqa: E402
import hls_delivery  # noqa: E402  (puts the repository on sys.path)

from livelite.config import DefaultConfig  # noqa: E402
from livelite.media import hls  # noqa: E402

REPO_ROOT = BENCH.parent
WINDOW_S = 10.0
HOST_USERNAME = "benchhost"  # the host chat.py's setup registers
# Chatters send at most half of the per-person limit (a token bucket: no refusal at half).
PER_CHATTER_RATE = 0.5 * DefaultConfig.CHAT_MESSAGES_PER_10S / 10
PER_LIKER_RATE = 1.0
MIN_SENDERS = 4
FINAL_WAIT_S = 60.0


# -- the site ------------------------------------------------------------------------------
@dataclass
class Site:
    """The server processes (the ingest one first), Redis, the publisher and the live."""

    tmp: Path
    apps: list = field(default_factory=list)  # hls_delivery.App
    names: list[str] = field(default_factory=list)
    redis: subprocess.Popen | None = None
    redis_url: str | None = None
    push: subprocess.Popen | None = None
    live_id: int = 0
    tokens: list[str] = field(default_factory=list)
    feed: hls_delivery.LiveFeed | None = None

    @property
    def ports(self) -> list[int]:
        return [app.port for app in self.apps]

    def stop(self) -> None:
        hls_delivery.stop_process(self.push)
        for app in reversed(self.apps):
            hls_delivery.stop_process(app.process)
        hls_delivery.stop_process(self.redis)

    def log_tails(self, size: int = 2000) -> str:
        parts = []
        for path in sorted(self.tmp.glob("*.log")):
            text = path.read_text(errors="replace")[-size:]
            parts.append(f"--- {path.name} (end) ---\n{text}")
        return "\n".join(parts)


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """A ``redis-server`` of our own on a free loopback port, without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("--processes > 1 needs redis-server (apt-get install -y redis-server)")
    folder.mkdir(parents=True, exist_ok=True)
    port = chat_bench.free_port()
    with (folder / "redis.log").open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder), "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return process, f"redis://127.0.0.1:{port}/0"
        if process.poll() is not None:
            break
        time.sleep(0.1)
    hls_delivery.stop_process(process)
    raise RuntimeError("redis-server did not answer PING in 10 s")


def senders_for(chat_rate: float, likes_rate: float) -> tuple[int, int]:
    chatters = max(MIN_SENDERS, math.ceil(chat_rate / PER_CHATTER_RATE)) if chat_rate > 0 else 0
    likers = max(MIN_SENDERS, math.ceil(likes_rate / PER_LIKER_RATE)) if likes_rate > 0 else 0
    return chatters, likers


def start_site(args, tmp: Path, accounts: int) -> Site:
    site = Site(tmp)
    clip = tmp / "clip.flv"
    # Before the live starts: it ends after PUBLISHER_GRACE_SECONDS without a publisher.
    print("Encoding a 10 s 720p30 clip at 2.5 Mbit/s…", flush=True)
    hls_delivery.encode_clip(clip, 10)
    try:
        instance = tmp / "instance"
        common = {"LIVELITE_MAX_CONNECTIONS": str(max_connections(args))}
        if args.processes > 1:
            site.redis, site.redis_url = start_redis(tmp / "redis")
            common.update({"LIVELITE_REDIS_URL": site.redis_url, "LIVELITE_REDIS_PREFIX": "soak:"})
        site.apps.append(hls_delivery.start_app(instance, tmp / "app-ingest.log", common))
        site.names.append("ingest" if args.processes > 1 else "app")
        web = {**common, "LIVELITE_INGEST": "false", "LIVELITE_RTMP_ENABLED": "false"}
        for index in range(1, args.processes):
            site.apps.append(hls_delivery.start_app(instance, tmp / f"app-web{index}.log", web))
            site.names.append(f"web{index}")
        ingest = site.apps[0]
        print(
            f"Servers: {', '.join(f'{n} :{a.port} (pid {a.process.pid})' for n, a in zip(site.names, site.apps, strict=True))}"
            + (f"; Redis {site.redis_url}" if site.redis_url else ""),
            flush=True,
        )
        # After the servers are up: the ingest process's start ends lives left open.
        setup = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, chat_bench.__file__, "--setup-livelite", str(accounts)],
            cwd=REPO_ROOT, env=ingest.env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        if setup.returncode != 0:
            raise RuntimeError(f"setup failed:\n{setup.stdout}\n{setup.stderr}")
        made = json.loads(setup.stdout.strip().splitlines()[-1])
        site.live_id, site.tokens = made["live_id"], made["tokens"]
        key = ingest.cli("stream-key", HOST_USERNAME).strip()
        site.push = hls_delivery.start_push(clip, ingest, key, tmp / "push.log")
        site.feed = hls_delivery.wait_for_live(ingest, 6)
        if site.feed.live_id != site.live_id:
            raise RuntimeError(f"the push went to live {site.feed.live_id}, not {site.live_id}")
        print(f"Live {site.live_id} is on ({site.feed.playlist_path}).", flush=True)
        return site
    except BaseException:
        site.stop()
        raise


def max_connections(args) -> int:
    """Every socket and HLS viewer on one process (the worst spread), with room to spare."""
    return max(DefaultConfig.MAX_CONNECTIONS, args.sockets + args.hls + 1024)


# -- socket clients ------------------------------------------------------------------------
class SoakClient(chat_bench.ClientProcess):
    """chat.py's epoll client process, its connections spread over several servers, sending
    and reporting once per window for as long as the soak lasts."""

    def __init__(
        self, pipe, ports: list[int], live_id: int, role: str, tokens: list[str], name: str, offset: int
    ):
        super().__init__(pipe, ports[0], live_id, role, tokens)
        self.ports, self.name, self.opened = ports, name, offset

    def open(self, auth: dict):
        # Round-robin over the servers. ``self.port`` is only read again for this
        # connection's handshake (its Host header).
        self.port = self.ports[self.opened % len(self.ports)]
        self.opened += 1
        return super().open(auth)

    def alive(self) -> int:
        return sum(1 for c in self.clients if not c.closed)

    def job_soak_connect(self, count: int, wave: int):
        result = yield from self.job_connect(count, wave)
        return {"kind": "connected", "source": self.name, **result}

    def job_soak(self, event: str, start_at: float, first: int, windows: int, rate: float):
        """Windows ``first`` … ``first + windows - 1`` from ``start_at``: senders send
        ``event`` at ``rate`` a second during each; at the end of every window each process
        reports the window before it (whose messages and acks had a whole window to come)."""
        for index in range(windows + 1):
            window_start = start_at + index * WINDOW_S
            while time.monotonic() < window_start:
                yield window_start
            if self.role == "senders" and index < windows and rate > 0:
                if self.alive():
                    if event == "chat":
                        yield from self.job_send(first + index, rate, WINDOW_S)
                    else:
                        yield from self.send_likes(first + index, rate, WINDOW_S)
                else:
                    self.acks[first + index] = _no_stats()
            boundary = window_start + WINDOW_S
            while time.monotonic() < boundary:
                yield boundary
            if index:
                self.pipe.send(self.report(first + index - 1))
        return {"kind": "done", "source": self.name}

    def send_likes(self, phase: int, rate: float, seconds: float):
        """``like`` {count: 1} at ``rate`` a second in all, round-robin over the likers."""
        live = [c for c in self.clients if not c.closed]
        stats = self.acks[phase] = _no_stats()
        start = time.monotonic() + 0.05
        for seq in range(round(rate * seconds)):
            due = start + seq / rate
            while time.monotonic() < due - 0.0005:
                yield due
            client = live[seq % len(live)]
            if client.closed:
                continue
            self.ack_ids += 1
            self.pending[self.ack_ids] = (phase, time.time())
            client.send(f'42{chat_bench.NAMESPACE},{self.ack_ids}["like",{{"count":1}}]')
            stats["sent"] += 1

    def report(self, window: int) -> dict:
        common = {"source": self.name, "window": window, "alive": self.alive(), "lost": self.lost}
        if self.role == "receivers":
            bucket = self.latencies.pop(window, array.array("d"))
            return {"kind": "delivered", "latencies": bucket.tobytes(), **common}
        stats = self.acks.pop(window, None) or _no_stats()
        unanswered = [ack for ack, (phase, _) in self.pending.items() if phase == window]
        for ack in unanswered:
            del self.pending[ack]  # an answer after this is ignored (on_packet)
        return {
            "kind": "sent",
            **stats,
            "ack_ms": stats["ack_ms"].tobytes(),
            "no_ack": len(unanswered),
            **common,
        }


def _no_stats() -> dict:
    return {"ok": 0, "refused": {}, "ack_ms": array.array("d"), "sent": 0}


def client_main(pipe, ports, live_id, role, tokens, name, offset) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    SoakClient(pipe, ports, live_id, role, tokens, name, offset).serve()


# -- HLS viewers ---------------------------------------------------------------------------
def hls_main(pipe, ports: list[int], playlist: str, viewers: int, epoch: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(run_hls(pipe, ports, playlist, viewers, epoch))


async def run_hls(pipe, ports: list[int], playlist: str, viewers: int, epoch: float) -> None:
    """hls_delivery's viewers until told to stop, one report at the end of every window."""
    crowd = [hls_delivery.Viewer() for _ in range(viewers)]
    ramp = min(hls_delivery.RAMP_S, viewers / 100)
    tasks = [
        asyncio.create_task(
            hls_delivery.run_viewer(ports[i % len(ports)], playlist, viewer, ramp * i / viewers, math.inf)
        )
        for i, viewer in enumerate(crowd)
    ]
    last = None
    window = 0
    while True:
        boundary = epoch + (window + 1) * WINDOW_S
        await asyncio.sleep(max(0.0, boundary - time.monotonic()))
        pipe.send(hls_report(window, crowd, tasks, boundary))
        while pipe.poll():
            command, *rest = pipe.recv()
            if command == "stop":
                last = rest[0]
        if last is not None and window >= last:
            break
        window += 1
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send({"kind": "done", "source": "hls"})


def hls_report(window: int, crowd: list, tasks: list, boundary: float) -> dict:
    """The requests that ended before ``boundary`` and were not reported yet."""
    playlists, segments = array.array("d"), array.array("d")
    errors: dict[str, int] = {}
    requests = size = 0
    for viewer in crowd:
        later = []
        for event in viewer.events:
            if event.end >= boundary:
                later.append(event)
                continue
            requests += 1
            if not event.ok:
                errors[event.error or "?"] = errors.get(event.error or "?", 0) + 1
                continue
            size += event.size
            if event.kind == "playlist":
                playlists.append(1000 * (event.end - event.start))
            elif event.kind == "segment":
                segments.append(1000 * (event.end - event.start))
        viewer.events = later
    return {
        "kind": "hls",
        "source": "hls",
        "window": window,
        "requests": requests,
        "bytes": size,
        "playlist_ms": playlists.tobytes(),
        "segment_ms": segments.tobytes(),
        "errors": errors,
        "behind": sum(1 for v in crowd if v.started and v.behind > hls_delivery.BEHIND_SEGMENTS),
        "not_started": sum(1 for v in crowd if not v.started),
        "stopped": sum(1 for t in tasks if t.done()),
    }


# -- server sampling -----------------------------------------------------------------------
def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0


class Sampler(threading.Thread):
    """At the end of every window: the servers' RSS, CPU and descriptors, the clients' and
    the machine's CPU, the live's status and viewer count, the ingest's progress."""

    def __init__(self, site: Site, epoch: float, client_pids: list[int], store):
        super().__init__(daemon=True)
        self.site, self.epoch, self.client_pids, self.store = site, epoch, client_pids, store
        self.stopped = threading.Event()

    def processes(self) -> dict[str, int]:
        found = {name: app.process.pid for name, app in zip(self.site.names, self.site.apps, strict=True)}
        if self.site.redis is not None:
            found["redis"] = self.site.redis.pid
        return found

    def measure(self) -> dict:
        servers = {
            name: {
                "cpu_s": hls_delivery.cpu_seconds(hls_delivery.descendants(pid)),
                "rss_mb": chat_bench.rss_mb(pid),
                "fds": open_fds(pid),
            }
            for name, pid in self.processes().items()
        }
        clients = hls_delivery.cpu_seconds([*self.client_pids, *self._push_pid()])
        return {
            "at": time.monotonic(),
            "servers": servers,
            "client_cpu_s": clients + hls_delivery.self_cpu_seconds(),
            "busy_s": hls_delivery.system_busy_seconds(),
            "media_s": hls.total_duration(self.site.feed.feed_dir),
        }

    def _push_pid(self) -> list[int]:
        return [self.site.push.pid] if self.site.push is not None else []

    def status(self) -> dict:
        started = time.monotonic()
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.site.apps[-1].port, timeout=hls_delivery.REQUEST_TIMEOUT_S
        )
        try:
            connection.request("GET", f"/api/v1/lives/{self.site.live_id}")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                return {"api_error": f"HTTP {response.status}", "api_done": True}
            live = json.loads(body)
            return {
                "api_done": True,
                "status": live["status"],
                "end_reason": live.get("end_reason"),
                "viewer_count": live.get("viewer_count"),
                "api_ms": 1000 * (time.monotonic() - started),
            }
        except (OSError, ValueError, KeyError, http.client.HTTPException) as exc:
            return {"api_error": type(exc).__name__, "api_done": True}
        finally:
            connection.close()

    def poll_status(self) -> None:
        """The live's status once a window, in a thread of its own: a slow answer (up to
        the viewers' 10 s timeout) must not delay the next window's sample."""
        window = 0
        while not self.stopped.wait(max(0.0, self.epoch + (window + 1) * WINDOW_S - time.monotonic())):
            self.store(window, self.status())
            window += 1

    def run(self) -> None:
        threading.Thread(target=self.poll_status, daemon=True).start()
        before = self.measure()
        window = 0
        while True:
            boundary = self.epoch + (window + 1) * WINDOW_S
            if self.stopped.wait(max(0.0, boundary - time.monotonic())):
                return
            after = self.measure()
            span = after["at"] - before["at"]
            servers = {
                name: {
                    "rss_mb": now["rss_mb"],
                    "fds": now["fds"],
                    "cpu_pct": 100 * (now["cpu_s"] - before["servers"].get(name, now)["cpu_s"]) / span,
                }
                for name, now in after["servers"].items()
            }
            server_cpu = sum(s["cpu_pct"] for s in servers.values())
            client_cpu = 100 * (after["client_cpu_s"] - before["client_cpu_s"]) / span
            busy = 100 * (after["busy_s"] - before["busy_s"]) / span
            sample = {
                "servers": servers,
                "client_cpu": client_cpu,
                "other_cpu": max(0.0, busy - server_cpu - client_cpu),
                "load1": os.getloadavg()[0],
                "ingest_speed": (after["media_s"] - before["media_s"]) / span,
                "exited": [
                    name
                    for name, app in zip(self.site.names, self.site.apps, strict=True)
                    if app.process.poll() is not None
                ],
                "publisher_exited": self.site.push.poll() is not None,
            }
            self.store(window, sample)
            before = after
            window += 1


# -- windows -------------------------------------------------------------------------------
def _floats(raw: bytes) -> array.array:
    values = array.array("d")
    values.frombytes(raw)
    return values


@dataclass
class Window:
    index: int
    phase: str = "ramp"  # ramp, soak, drain
    sample: dict | None = None
    hls: dict | None = None
    delivered: list[dict] = field(default_factory=list)  # one report per receiver process
    chat: dict | None = None
    likes: dict | None = None
    errors: dict[str, int] = field(default_factory=dict)

    # figures, filled by Run.close_window
    latencies: array.array = field(default_factory=lambda: array.array("d"))
    playlist_ms: array.array = field(default_factory=lambda: array.array("d"))
    segment_ms: array.array = field(default_factory=lambda: array.array("d"))
    alive: int = 0
    expected: int = 0


def pct(values, q: float) -> float:
    return chat_bench.percentile(sorted(values), q)


fmt = chat_bench.fmt


class Run:
    """Collects what the client processes, the HLS process and the sampler report, window
    by window, and counts the errors."""

    def __init__(self, args, site: Site, epoch: float, receivers: int, chatters: int, likers: int):
        self.args, self.site, self.epoch = args, site, epoch
        self.receivers, self.chatters, self.likers = receivers, chatters, likers
        self.windows: dict[int, Window] = {}
        self.lock = threading.Lock()
        self.first_soak: int | None = None
        self.soak_windows = max(1, math.ceil(args.minutes * 60 / WINDOW_S))
        self.last_lost: dict[str, int] = {}
        self.last_stopped = 0
        self.join_failures: dict[str, int] = {}
        self.connected = 0
        self.rate_limited = {"chat": 0, "likes": 0}
        self.printed_upto = -1
        self.live_over = False
        self.publisher_gone = False
        self.exited: set[str] = set()
        self.ramp_seconds = float("nan")
        self.incomplete = False

    def window(self, index: int) -> Window:
        if index not in self.windows:
            self.windows[index] = Window(index)
        return self.windows[index]

    def phase_of(self, index: int) -> str:
        if self.first_soak is None or index < self.first_soak:
            return "ramp"
        if index < self.first_soak + self.soak_windows:
            return "soak"
        return "drain" if index == self.first_soak + self.soak_windows else "after"

    def store_sample(self, index: int, part: dict) -> None:
        """The sampler's figures and the status poller's answer, whichever comes first."""
        with self.lock:
            window = self.window(index)
            window.sample = {**(window.sample or {}), **part}

    def handle(self, message: dict) -> None:
        kind = message["kind"]
        if kind in ("connected", "done"):
            return
        with self.lock:
            window = self.window(message["window"])
            if kind == "hls":
                window.hls = message
            elif kind == "delivered":
                window.delivered.append(message)
            elif kind == "sent":
                if message["source"] == "chatters":
                    window.chat = message
                else:
                    window.likes = message

    def complete(self, window: Window) -> bool:
        sample = window.sample or {}
        if "servers" not in sample or "api_done" not in sample or (self.args.hls and window.hls is None):
            return False
        if window.phase == "soak":
            if len(window.delivered) < self.args.workers:
                return False
            if (self.chatters and window.chat is None) or (self.likers and window.likes is None):
                return False
        return True

    def advance(self, force: bool = False) -> None:
        """Close and print the windows that are complete, in order."""
        while True:
            with self.lock:
                index = self.printed_upto + 1
                window = self.windows.get(index)
                if window is None:
                    return
                window.phase = self.phase_of(index)
                if window.phase == "after" or not (self.complete(window) or force):
                    return
                self.close_window(window)
            print(self.line(window), flush=True)
            self.printed_upto = index

    def count(self, window: Window, kind: str, n: int) -> None:
        if n > 0:
            window.errors[kind] = window.errors.get(kind, 0) + n

    def close_window(self, window: Window) -> None:
        sample = window.sample or {}
        # Sockets lost: the processes' counts only go up.
        for report in [*window.delivered, *(r for r in (window.chat, window.likes) if r)]:
            lost = report["lost"] - self.last_lost.get(report["source"], 0)
            self.last_lost[report["source"]] = report["lost"]
            self.count(window, "socket disconnected", lost)
        window.alive = sum(r["alive"] for r in window.delivered)
        for report in window.delivered:
            window.latencies.extend(_floats(report["latencies"]))
        for name, report in (("chat", window.chat), ("likes", window.likes)):
            if report is None:
                continue
            for code, n in report["refused"].items():
                if code == "rate_limited":
                    self.rate_limited[name] += n
                else:
                    self.count(window, f"{name} refused: {code}", n)
            self.count(window, f"{name} without ack", report["no_ack"])
        if window.chat is not None:
            window.expected = window.chat["ok"] * window.alive
            self.count(window, "chat not delivered", window.expected - len(window.latencies))
        elif window.phase == "soak" and self.chatters:
            self.count(window, "report missing", 1)
        if window.hls is not None:
            window.playlist_ms = _floats(window.hls["playlist_ms"])
            window.segment_ms = _floats(window.hls["segment_ms"])
            for kind, n in window.hls["errors"].items():
                self.count(window, f"HLS {kind}", n)
            self.count(window, "HLS viewer stopped", window.hls["stopped"] - self.last_stopped)
            self.last_stopped = window.hls["stopped"]
        if "api_error" in sample:
            self.count(window, f"status API {sample['api_error']}", 1)
        if sample.get("status") not in (None, "live") and not self.live_over:
            self.live_over = True
            self.count(window, f"live ended ({sample.get('end_reason')})", 1)
        if sample.get("publisher_exited") and not self.publisher_gone:
            self.publisher_gone = True
            self.count(window, "publisher exited", 1)
        for name in sample.get("exited", []):
            if name not in self.exited:
                self.exited.add(name)
                self.count(window, f"server {name} exited", 1)

    # -- one line per window ------------------------------------------------------------------
    def line(self, w: Window) -> str:
        s = w.sample or {}
        servers = {k: v for k, v in s.get("servers", {}).items() if k != "redis"}
        rss = "+".join(f"{v['rss_mb']:.0f}" for v in servers.values())
        cpu = "+".join(f"{v['cpu_pct']:.0f}" for v in servers.values())
        fds = "+".join(str(v["fds"]) for v in servers.values())
        parts = [f"{(w.index + 1) * WINDOW_S:5.0f} s {w.phase:<5}"]
        if w.phase == "soak" or w.delivered:
            connected = w.alive + sum(r["alive"] for r in (w.chat, w.likes) if r)
            parts.append(f"sockets {connected} (server {s.get('viewer_count', '?')})")
        else:
            parts.append(f"server count {s.get('viewer_count', '?')}")
        parts.append(f"RSS {rss} MB, CPU {cpu} %, fds {fds}")
        if w.chat is not None:
            parts.append(
                f"chat {w.chat['ok']}/{w.chat['sent']} ok, {len(w.latencies)}/{w.expected} "
                f"p50 {fmt(pct(w.latencies, 50))} p99 {fmt(pct(w.latencies, 99))} ms"
            )
        if w.likes is not None:
            parts.append(f"likes {w.likes['ok']}/{w.likes['sent']}")
        if w.hls is not None:
            parts.append(
                f"HLS {w.hls['requests'] / WINDOW_S:.0f} req/s pl p99 {fmt(pct(w.playlist_ms, 99))} "
                f"seg p99 {fmt(pct(w.segment_ms, 99))} ms"
            )
        parts.append(f"ingest {s.get('ingest_speed', float('nan')):.2f}×")
        parts.append(f"errors {sum(w.errors.values())}" + (f" {w.errors}" if w.errors else ""))
        return " | ".join(parts)


# -- the run -------------------------------------------------------------------------------
class Crowd:
    """The client processes: receivers, chatters, likers and the HLS viewers."""

    def __init__(self, args, site: Site, epoch: float, receivers: int, chatters: int, likers: int):
        context = multiprocessing.get_context("fork")
        self.procs: list = []
        self.pipes: dict = {}  # our end -> source name
        self.finished: set = set()  # pipes whose process said it is done
        self.receivers: list = []
        self.chatters = self.likers = self.hls = None
        ports = site.ports
        shares = [
            receivers // args.workers + (1 if i < receivers % args.workers else 0)
            for i in range(args.workers)
        ]
        self.shares = shares
        for index in range(args.workers):
            pipe = self._start(
                context,
                client_main,
                (ports, site.live_id, "receivers", [], f"receivers{index}", index),
                f"receivers{index}",
            )
            self.receivers.append(pipe)
        if chatters:
            self.chatters = self._start(
                context,
                client_main,
                (ports, site.live_id, "senders", site.tokens[:chatters], "chatters", 0),
                "chatters",
            )
        if likers:
            self.likers = self._start(
                context,
                client_main,
                (ports, site.live_id, "senders", site.tokens[chatters:], "likers", 1),
                "likers",
            )
        if args.hls:
            self.hls = self._start(
                context, hls_main, (ports, site.feed.playlist_path, args.hls, epoch), "hls"
            )

    def _start(self, context, target, args: tuple, name: str):
        mine, theirs = context.Pipe()
        proc = context.Process(target=target, args=(theirs, *args), daemon=True)
        proc.start()
        theirs.close()
        self.procs.append(proc)
        self.pipes[mine] = name
        return mine

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def senders(self) -> list:
        return [p for p in (self.chatters, self.likers) if p is not None]

    def close(self) -> None:
        for pipe, name in self.pipes.items():
            if name != "hls":
                with contextlib.suppress(OSError, ValueError):
                    pipe.send(("quit",))
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)


def pump(run: Run, crowd: Crowd, until: float, waiting: set | None = None) -> list[dict]:
    """Read every report until ``until`` (monotonic) or, with ``waiting`` (pipes), until
    each of those has sent a ``connected`` or ``done`` answer; those answers are returned."""
    answers = []
    while True:
        if waiting is not None and not waiting:
            return answers
        left = until - time.monotonic()
        if left <= 0:
            return answers
        listening = [pipe for pipe in crowd.pipes if pipe not in crowd.finished]
        ready = multiprocessing.connection.wait(listening, timeout=min(left, 0.5))
        for pipe in ready:
            try:
                message = pipe.recv()
            except (EOFError, OSError):
                raise RuntimeError(f"the {crowd.pipes[pipe]} process died") from None
            if message.get("kind") == "done":
                crowd.finished.add(pipe)  # the HLS process exits after this
            if message.get("kind") in ("connected", "done") and waiting is not None and pipe in waiting:
                waiting.discard(pipe)
                answers.append(message)
            run.handle(message)
        run.advance()


def soak(args, site: Site, tmp: Path) -> Run:
    chatters, likers = senders_for(args.chat_rate, args.likes_rate)
    receivers = args.sockets - chatters - likers
    epoch = time.monotonic()
    run = Run(args, site, epoch, receivers, chatters, likers)
    crowd = Crowd(args, site, epoch, receivers, chatters, likers)
    sampler = Sampler(site, epoch, crowd.pids, run.store_sample)
    sampler.start()
    try:
        print(
            f"Ramp-up: {args.hls} HLS viewers, then {chatters} chatters and {likers} likers, then "
            f"{receivers} receivers in waves of {args.wave}; sockets round-robin over {len(site.apps)} "
            f"process(es).",
            flush=True,
        )
        ramp_start = time.monotonic()
        senders = crowd.senders()
        for pipe, count in ((crowd.chatters, chatters), (crowd.likers, likers)):
            if pipe is not None:
                pipe.send(("soak_connect", count, count))
        answers = pump(run, crowd, time.monotonic() + chat_bench.CONNECT_TIMEOUT_S + 10, set(senders))
        wave = max(1, args.wave // args.workers)
        for pipe, count in zip(crowd.receivers, crowd.shares, strict=True):
            pipe.send(("soak_connect", count, wave))
        limit = chat_bench.CONNECT_TIMEOUT_S * (receivers / max(1, args.wave) + 2)
        answers += pump(run, crowd, time.monotonic() + limit, set(crowd.receivers))
        if len(answers) < len(senders) + len(crowd.receivers):
            raise RuntimeError("the socket clients did not finish connecting")
        for answer in answers:
            run.connected += answer["connected"]
            for reason, n in answer["failures"].items():
                run.join_failures[reason] = run.join_failures.get(reason, 0) + n
        # chat.py's connect stops knocking when half a wave fails: the rest never tried.
        untried = args.sockets - run.connected - sum(run.join_failures.values())
        if untried > 0:
            run.join_failures["not tried"] = untried
        run.ramp_seconds = time.monotonic() - ramp_start
        print(
            f"{run.connected}/{args.sockets} sockets joined in {run.ramp_seconds:.1f} s"
            + (f"; failures {run.join_failures}" if run.join_failures else ""),
            flush=True,
        )
        first = math.floor((time.monotonic() - epoch) / WINDOW_S) + 1
        if epoch + first * WINDOW_S - time.monotonic() < 1.0:
            first += 1
        start_at = epoch + first * WINDOW_S
        with run.lock:
            run.first_soak = first
        for pipe in crowd.receivers:
            pipe.send(("soak", "chat", start_at, first, run.soak_windows, 0.0))
        if crowd.chatters is not None:
            crowd.chatters.send(("soak", "chat", start_at, first, run.soak_windows, args.chat_rate))
        if crowd.likers is not None:
            crowd.likers.send(("soak", "like", start_at, first, run.soak_windows, args.likes_rate))
        last = first + run.soak_windows  # the drain window
        if crowd.hls is not None:
            crowd.hls.send(("stop", last))
        print(
            f"Soak: {args.minutes:g} min from {first * WINDOW_S:.0f} s, chat {args.chat_rate:g}/s, "
            f"likes {args.likes_rate:g}/s; then {WINDOW_S:.0f} s of drain.",
            flush=True,
        )
        end = epoch + (last + 1) * WINDOW_S
        pump(run, crowd, end + FINAL_WAIT_S, set(crowd.pipes))
        deadline = time.monotonic() + WINDOW_S
        while run.printed_upto < last and time.monotonic() < deadline:
            pump(run, crowd, time.monotonic() + 0.5)
        if run.printed_upto < last:
            run.advance(force=True)
            run.incomplete = True
        return run
    finally:
        sampler.stopped.set()
        crowd.close()


# -- output --------------------------------------------------------------------------------
def server_names(run: Run) -> list[str]:
    return list(run.site.names)


def figures(run: Run, windows: list[Window]) -> dict:
    """Figures over several windows (a minute, the ramp, the whole soak)."""
    latencies, playlist, segment = array.array("d"), array.array("d"), array.array("d")
    chat_ack, likes_ack = array.array("d"), array.array("d")
    sent = ok = likes_sent = likes_ok = expected = requests = size = 0
    errors: dict[str, int] = {}
    for w in windows:
        latencies.extend(w.latencies)
        playlist.extend(w.playlist_ms)
        segment.extend(w.segment_ms)
        expected += w.expected
        if w.chat:
            sent += w.chat["sent"]
            ok += w.chat["ok"]
            chat_ack.extend(_floats(w.chat["ack_ms"]))
        if w.likes:
            likes_sent += w.likes["sent"]
            likes_ok += w.likes["ok"]
            likes_ack.extend(_floats(w.likes["ack_ms"]))
        if w.hls:
            requests += w.hls["requests"]
            size += w.hls["bytes"]
        for kind, n in w.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    samples = [w.sample for w in windows if w.sample and "servers" in w.sample]
    names = [*server_names(run), *(["redis"] if run.site.redis else [])]
    cpu = {n: [s["servers"][n]["cpu_pct"] for s in samples if n in s["servers"]] for n in names}
    last = samples[-1] if samples else {"servers": {}}
    span = len(windows) * WINDOW_S
    segments_sorted = sorted(segment)
    return {
        "seconds": span,
        "chat_sent": sent,
        "chat_ok": ok,
        "delivered": len(latencies),
        "expected": expected,
        "chat_p50_ms": pct(latencies, 50),
        "chat_p99_ms": pct(latencies, 99),
        "chat_max_ms": max(latencies) if latencies else float("nan"),
        "chat_ack_p50_ms": pct(chat_ack, 50),
        "chat_ack_p99_ms": pct(chat_ack, 99),
        "likes_sent": likes_sent,
        "likes_ok": likes_ok,
        "likes_ack_p99_ms": pct(likes_ack, 99),
        "hls_requests_per_s": requests / span if span else float("nan"),
        "hls_mb_per_s": size / span / 1e6 if span else float("nan"),
        "playlist_p50_ms": pct(playlist, 50),
        "playlist_p99_ms": pct(playlist, 99),
        "segment_p50_ms": chat_bench.percentile(segments_sorted, 50),
        "segment_p99_ms": chat_bench.percentile(segments_sorted, 99),
        "segment_late_pct": 100 * sum(1 for v in segment if v > 1000) / len(segment)
        if segment
        else float("nan"),
        "sockets_min": min(
            (w.alive + sum(r["alive"] for r in (w.chat, w.likes) if r) for w in windows if w.delivered),
            default=None,
        ),
        "server_count_min": min(
            (s.get("viewer_count") for s in samples if s.get("viewer_count") is not None), default=None
        ),
        "rss_mb_end": {n: v["rss_mb"] for n, v in last["servers"].items()},
        "fds_end": {n: v["fds"] for n, v in last["servers"].items()},
        "cpu_mean_pct": {n: sum(v) / len(v) if v else float("nan") for n, v in cpu.items()},
        "cpu_max_pct": {n: max(v) if v else float("nan") for n, v in cpu.items()},
        "client_cpu_pct": _mean([s["client_cpu"] for s in samples]),
        "other_cpu_pct": _mean([s["other_cpu"] for s in samples]),
        "ingest_min": min((s["ingest_speed"] for s in samples), default=float("nan")),
        "ingest_mean": _mean([s["ingest_speed"] for s in samples]),
        "errors": errors,
    }


def rss_growth(names: list[str], start: list[Window], end: list[Window]):
    """Server RSS (sum of the processes, MB) at the end of the ``start`` window and of the
    ``end`` window, the growth (%), and per process (start, end, growth)."""
    first = (start[0].sample or {}).get("servers", {}) if start else {}
    last = (end[0].sample or {}).get("servers", {}) if end else {}
    both = [n for n in names if n in first and n in last]
    per_process = {
        n: (first[n]["rss_mb"], last[n]["rss_mb"], 100 * (last[n]["rss_mb"] / first[n]["rss_mb"] - 1))
        for n in both
    }
    before = sum(first[n]["rss_mb"] for n in both)
    after = sum(last[n]["rss_mb"] for n in both)
    return before, after, (100 * (after / before - 1) if before else float("nan")), per_process


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _per_process(values: dict, names: list[str], digits: int = 0) -> str:
    return " + ".join(fmt(values.get(n, float("nan")), digits) for n in names)


def print_report(run: Run) -> dict:
    args, names = run.args, server_names(run)
    ordered = [run.windows[k] for k in sorted(run.windows) if k <= run.printed_upto]
    ramp = [w for w in ordered if w.phase == "ramp"]
    soaked = [w for w in ordered if w.phase == "soak"]
    drain = [w for w in ordered if w.phase == "drain"]
    per_minute = max(1, round(60 / WINDOW_S))
    minutes = [soaked[i : i + per_minute] for i in range(0, len(soaked), per_minute)]
    print(f"\nMachine: {chat_bench.machine()}")
    print(
        f"{args.sockets} sockets ({run.receivers} receivers, {run.chatters} chatters, {run.likers} likers) and "
        f"{args.hls} HLS viewers on {len(names)} process(es) ({', '.join(names)}); chat {args.chat_rate:g}/s, "
        f"likes {args.likes_rate:g}/s; windows of {WINDOW_S:.0f} s; RSS, CPU (% of one core) and fds per "
        f"server process in that order; errors of the ramp-up include join failures.\n"
    )
    header = (
        "| minute | sockets (server count) | chat ok / sent | delivered / expected | chat p50 / p99 | ack p99 "
        "| likes ok / sent | HLS req/s | playlist p50 / p99 | segment p50 / p99 | ingest mean (min) | RSS MB (end) "
        "| CPU % | fds (end) | errors |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    rows = []
    if ramp:
        rows.append((f"ramp-up ({run.ramp_seconds:.0f} s)", ramp, sum(run.join_failures.values())))
    rows += [(str(i + 1), chunk, 0) for i, chunk in enumerate(minutes)]
    if drain:
        rows.append(("drain", drain, 0))
    table = []
    for label, chunk, extra_errors in rows:
        f = figures(run, chunk)
        errors = sum(f["errors"].values()) + extra_errors
        table.append({"label": label, **f})
        sockets = "—" if f["sockets_min"] is None else str(f["sockets_min"])
        if label.startswith("ramp"):
            sockets = f"{run.connected} joined"
        print(
            f"| {label} | {sockets} ({f['server_count_min'] if f['server_count_min'] is not None else '?'}) "
            f"| {f['chat_ok']} / {f['chat_sent']} | {f['delivered']} / {f['expected']} "
            f"| {fmt(f['chat_p50_ms'])} / {fmt(f['chat_p99_ms'])} ms | {fmt(f['chat_ack_p99_ms'])} ms "
            f"| {f['likes_ok']} / {f['likes_sent']} | {fmt(f['hls_requests_per_s'])} "
            f"| {fmt(f['playlist_p50_ms'])} / {fmt(f['playlist_p99_ms'])} ms "
            f"| {fmt(f['segment_p50_ms'])} / {fmt(f['segment_p99_ms'])} ms | {f['ingest_mean']:.2f}× ({f['ingest_min']:.2f}×) "
            f"| {_per_process(f['rss_mb_end'], names)} | {_per_process(f['cpu_mean_pct'], names)} "
            f"| {_per_process(f['fds_end'], names)} | {errors} |"
        )
    whole = figures(run, soaked)
    errors: dict[str, int] = {}
    for w in ordered:
        for kind, n in w.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    for reason, n in run.join_failures.items():
        errors[f"join failed: {reason}"] = errors.get(f"join failed: {reason}", 0) + n
    total_errors = sum(errors.values())
    total_start, total_end, total_growth, growth = rss_growth(names, ramp[-1:], soaked[-1:])
    middle = soaked[len(soaked) // 2 - 1 : len(soaked) // 2] if len(soaked) >= 4 else []
    half_start, half_end, half_growth, _ = rss_growth(names, middle, soaked[-1:])
    print(f"\nSummary ({len(soaked) * WINDOW_S / 60:g} min after a ramp-up of {run.ramp_seconds:.0f} s):")
    print(
        f"  errors: {total_errors}"
        + (f" — {dict(sorted(errors.items()))}" if errors else "")
        + f" (goal 0: {'met' if total_errors == 0 else 'MISSED'})"
    )
    print(
        f"  server RSS: {total_start:.0f} MB at the end of the ramp-up, {total_end:.0f} MB at the end: "
        f"{total_growth:+.1f} % (goal < 10 %: {'met' if total_growth < 10 else 'MISSED'})"
        + (
            f"; over the second half {half_start:.0f} → {half_end:.0f} MB ({half_growth:+.1f} %)"
            if middle
            else ""
        )
    )
    if len(names) > 1:
        print(
            "  per process: "
            + ", ".join(f"{n} {a:.0f} → {b:.0f} MB ({g:+.1f} %)" for n, (a, b, g) in growth.items())
        )
    print(
        f"  chat: {whole['chat_ok']}/{whole['chat_sent']} acknowledged ok, {whole['delivered']}/{whole['expected']} "
        f"delivered; delivery p50 {fmt(whole['chat_p50_ms'])} / p99 {fmt(whole['chat_p99_ms'])} / max "
        f"{fmt(whole['chat_max_ms'])} ms; ack p50 {fmt(whole['chat_ack_p50_ms'])} / p99 {fmt(whole['chat_ack_p99_ms'])} ms; "
        f"likes {whole['likes_ok']}/{whole['likes_sent']} ok, ack p99 {fmt(whole['likes_ack_p99_ms'])} ms; "
        f"rate_limited refusals: chat {run.rate_limited['chat']}, likes {run.rate_limited['likes']}"
    )
    print(
        f"  HLS: {fmt(whole['hls_requests_per_s'])} req/s, {fmt(whole['hls_mb_per_s'], 1)} MB/s; playlist p50 "
        f"{fmt(whole['playlist_p50_ms'])} / p99 {fmt(whole['playlist_p99_ms'])} ms, segment p50 "
        f"{fmt(whole['segment_p50_ms'])} / p99 {fmt(whole['segment_p99_ms'])} ms, late (> 1 s) "
        f"{fmt(whole['segment_late_pct'], 1)} %; viewers more than {hls_delivery.BEHIND_SEGMENTS} segments "
        f"behind at the end: {soaked[-1].hls['behind'] if soaked and soaked[-1].hls else '—'}"
    )
    print(
        "  server CPU (% of one core) mean / max: "
        + ", ".join(
            f"{n} {fmt(whole['cpu_mean_pct'][n])} / {fmt(whole['cpu_max_pct'][n])}"
            for n in whole["cpu_mean_pct"]
        )
        + f"; clients {fmt(whole['client_cpu_pct'])} %, other {fmt(whole['other_cpu_pct'])} %"
    )
    print(
        f"  ingest: {whole['ingest_mean']:.2f}× real time on average, slowest window {whole['ingest_min']:.2f}×; "
        f"sockets connected at the lowest {whole['sockets_min']} of {args.sockets} (server's count "
        f"{whole['server_count_min']})"
    )
    if run.incomplete:
        print("  (some windows lacked a report when the run ended)")
    return {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": chat_bench.machine(),
        "processes": names,
        "ramp_seconds": run.ramp_seconds,
        "join_failures": run.join_failures,
        "summary": {
            **whole,
            "errors": errors,
            "total_errors": total_errors,
            "rss_mb_total_ramp_end": total_start,
            "rss_mb_total_end": total_end,
            "rss_growth_pct": total_growth,
            "rss_growth_pct_per_process": {n: g for n, (_a, _b, g) in growth.items()},
            "rss_growth_pct_second_half": half_growth if middle else None,
            "rate_limited": run.rate_limited,
        },
        "minutes": table,
        "windows": [
            {
                "index": w.index,
                "phase": w.phase,
                "sample": w.sample,
                "errors": w.errors,
                "chat_p50_ms": pct(w.latencies, 50),
                "chat_p99_ms": pct(w.latencies, 99),
                "delivered": len(w.latencies),
                "expected": w.expected,
                "playlist_p99_ms": pct(w.playlist_ms, 99),
                "segment_p99_ms": pct(w.segment_ms, 99),
            }
            for w in ordered
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sockets", type=int, default=2000, help="Socket.IO clients in all (2000)")
    parser.add_argument("--hls", type=int, default=500, help="HLS viewers (500)")
    parser.add_argument("--minutes", type=float, default=10, help="length of the soak after the ramp-up (10)")
    parser.add_argument("--chat-rate", type=float, default=2, help="chat messages a second in all (2)")
    parser.add_argument("--likes-rate", type=float, default=20, help="like events a second in all (20)")
    parser.add_argument("--processes", type=int, default=1, help="server processes; > 1 uses Redis (1)")
    parser.add_argument("--workers", type=int, default=4, help="receiver processes (4)")
    parser.add_argument("--wave", type=int, default=100, help="receivers connecting at once (100)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    chatters, likers = senders_for(args.chat_rate, args.likes_rate)
    if args.sockets - chatters - likers < args.workers:
        parser.error(f"--sockets must leave at least --workers receivers after {chatters + likers} senders")
    if args.processes < 1 or args.workers < 1 or args.hls < 0 or args.minutes <= 0:
        parser.error("--processes and --workers must be ≥ 1, --hls ≥ 0, --minutes > 0")
    chat_bench.raise_fd_limit()
    print(f"Machine: {chat_bench.machine()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="livelite-soak-"))
    site = None
    try:
        site = start_site(args, tmp, chatters + likers)
        run = soak(args, site, tmp)
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
        print(f"\nThe measurement failed: {exc}", flush=True)
        if site is not None or any(tmp.glob("*.log")):
            print(Site(tmp).log_tails(), flush=True)
        return 1
    finally:
        if site is not None:
            site.stop()
        if args.keep:
            print(f"Kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result = print_report(run)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 1 if run.incomplete else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Live room chat: N clients in one live, M messages a second; LiveLite vs a bare Flask-SocketIO.

    python bench/chat.py [--clients 100,500,1000,2000] [--rate 5,20] [--seconds 20]
        [--targets baseline,livelite,batched] [--workers 4] [--max-conns 0] [--quiet-wait 0]
        [--batch-ms 200] [--py-spy PATH] [--json out.json]

For every number of clients N and each target the script starts a fresh server on a free
port of 127.0.0.1:

* ``livelite``: ``python app.py`` in a temporary instance folder (SQLite), RTMP off,
  ``LIVELITE_PUBLISHER_GRACE_SECONDS=86400`` (the live has no publisher; without it the
  media tick would end it after 60 s) and ``LIVELITE_CHAT_MESSAGES_PER_10S=100`` (the
  highest value the admin setting allows; the senders stay at half of it). Once it
  answers ``/healthz``, a setup process (this script with ``--setup-livelite``, app
  context, no server) registers the host (the first account, so admin), starts a public
  live with ``services.lives.start_live`` and makes sender accounts, each with an API
  token of scopes read+write passed as ``token`` in the Socket.IO auth (the contract's
  way for programs). Receivers are anonymous visitors of the public live.
* ``baseline``: ``bench/chat_baseline.py``, the same Flask-SocketIO/eventlet stack whose
  ``chat_send`` only broadcasts ``chat`` to the room (the yardstick).
* ``batched`` (not run unless asked): the baseline gathering messages for ``--batch-ms``
  and sending one ``chat`` [messages] per room each time, an experiment outside the
  contract that shows what batching the broadcast would buy.

Clients speak Engine.IO v4 / Socket.IO v5 over a raw WebSocket (``/socket.io/?EIO=4&
transport=websocket``, no polling, no compression) written here on plain non-blocking
sockets and epoll (asyncio's per-callback cost was about four times higher): the
receivers parse frames in place and look for the benchmark's marker in ``chat`` events
without decoding the JSON, and answer pings. Receivers are
spread over ``--workers`` processes; the senders run in one more process. Receivers
connect in waves (``--wave`` at a time, each wave waiting for its Socket.IO connects to be
answered); then the script waits for the server to go quiet (the joins' broadcasts).

For each rate M the senders send ``chat_send`` ``{body}`` at M messages a second in
total for ``--seconds``, round-robin over ``max(4, ceil(M / 5))`` senders (each at most 5
a second, half LiveLite's raised per-person limit). Each body carries the phase, a
sequence number and the sender's ``time.time()``; a receiver's delivery latency is its
own ``time.time()`` when the frame's bytes arrive minus that stamp (one machine, one
clock). After the sending the script waits ``--drain`` seconds for late deliveries;
what has not arrived by then counts as lost.

Figures per (target, N, M): clients connected, the time the joins took, messages sent
and acknowledged ``ok`` (and refusals by code), delivered/expected (expected = acked ×
receivers connected), delivery latency p50/p95/p99/max, acknowledgement time p50/p99
(``chat_send`` to its ack, the handler's own cost), server CPU (% of one core; the
server is one eventlet process, so 100 % is its ceiling) and RSS during the sending,
the client processes' CPU and the rest of the machine's, and the 1-minute load average.
A ratio table LiveLite/baseline follows for p50, p99 and server CPU.

``--max-conns N`` raises eventlet's WSGI green-thread pool (``eventlet.wsgi``'s
``DEFAULT_MAX_SIMULTANEOUS_REQUESTS``, 1024) for both servers by starting them through a
two-line launcher; 0 (the default) runs them exactly as they ship. Every Socket.IO
connection holds one green thread of that pool for its whole life.

``--py-spy PATH`` (py-spy is not a requirement; ``pip install py-spy`` anywhere) samples
the server during the joins and during each sending phase and prints where its busy time
went (own time by package and function, time under LiveLite's and Socket.IO's functions);
the raw collapsed stacks are kept in a folder it names.

The client shares the machine with the server: its CPU is printed so that a client-bound
figure shows as such. The exit status is non-zero only when the measurement fails.
"""

from __future__ import annotations

import argparse
import array
import base64
import contextlib
import errno
import json
import math
import multiprocessing
import os
import re
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "/live"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CHAT_LIMIT_PER_10S = 100  # LIVELITE_CHAT_MESSAGES_PER_10S for the bench (the setting's maximum)
PER_SENDER_RATE = 5.0  # messages a second per sender: half of the raised limit
MIN_SENDERS = 4
CONNECT_TIMEOUT_S = 60.0
HOST = "127.0.0.1"

MARK = re.compile(rb"#bench#(\d+)#(\d+)#(\d+\.\d+)#")
CHAT_PREFIX = b'42/live,["chat",'
CONNECTED_PREFIX = b"40/live,"
REFUSED_PREFIX = b"44/live,"
ACK_PREFIX = b"43/live,"


# -- processes -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen | None, timeout: float = 10) -> None:
    """Stop one process we started (by its own pid only)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def raise_fd_limit() -> None:
    """Thousands of sockets: lift the soft limit on open files to the hard one (inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def launcher_argv(script: str, args: list[str], max_conns: int) -> list[str]:
    """``python script args``, or the same behind a launcher that raises eventlet's pool."""
    if not max_conns:
        return [sys.executable, script, *args]
    code = (
        "import sys, runpy, warnings; "
        "warnings.filterwarnings('ignore', message=r'(?s).*Eventlet is deprecated'); "
        "import eventlet; eventlet.monkey_patch(); import eventlet.wsgi; "
        f"eventlet.wsgi.DEFAULT_MAX_SIMULTANEOUS_REQUESTS = {int(max_conns)}; "
        f"sys.argv = [{script!r}, *{args!r}]; "
        f"runpy.run_path({script!r}, run_name='__main__')"
    )
    return [sys.executable, "-c", code]


def http_ok(port: int, path: str) -> bool:
    import http.client

    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status == 200 and b'"ok"' in response.read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


@dataclass
class Server:
    target: str
    port: int
    process: subprocess.Popen
    env: dict
    live_id: int = 1
    tokens: list[str] = field(default_factory=list)


def start_server(target: str, tmp: Path, senders: int, max_conns: int, batch_ms: int) -> Server:
    port = free_port()
    log_path = tmp / f"{target}-{port}.log"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LIVELITE_") and k != "DATABASE_URL"}
    env = {**inherited, "PYTHONUNBUFFERED": "1"}
    if target == "livelite":
        instance = tmp / f"instance-{port}"
        instance.mkdir()
        env.update(
            {
                "LIVELITE_INSTANCE_PATH": str(instance),
                "LIVELITE_HOST": HOST,
                "LIVELITE_PORT": str(port),
                "LIVELITE_RTMP_ENABLED": "false",
                "LIVELITE_PUBLISHER_GRACE_SECONDS": "86400",
                "LIVELITE_CHAT_MESSAGES_PER_10S": str(CHAT_LIMIT_PER_10S),
            }
        )
        argv = launcher_argv("app.py", [], max_conns)
    else:
        options = ["--host", HOST, "--port", str(port)]
        if target == "batched":
            options += ["--batch-ms", str(batch_ms)]
        argv = launcher_argv(str(Path("bench") / "chat_baseline.py"), options, max_conns)
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    server = Server(target, port, process, env)
    deadline = time.monotonic() + 90
    while not http_ok(port, "/healthz"):
        if process.poll() is not None:
            raise RuntimeError(f"{target} exited with {process.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"{target} did not answer /healthz in 90 s; see {log_path}")
        time.sleep(0.3)
    if target == "livelite":
        # After the server is up: its start ends lives a previous run left open.
        result = subprocess.run(  # noqa: S603 - fixed argv
            [sys.executable, str(Path(__file__).resolve()), "--setup-livelite", str(senders)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            stop_process(process)
            raise RuntimeError(f"setup failed:\n{result.stdout}\n{result.stderr}")
        setup = json.loads(result.stdout.strip().splitlines()[-1])
        server.live_id, server.tokens = setup["live_id"], setup["tokens"]
    return server


def setup_livelite(senders: int) -> None:
    """In the app's context (no server): host, a public live, senders with write tokens."""
    import warnings
    from datetime import date

    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    sys.path.insert(0, str(REPO_ROOT))
    from livelite import create_app
    from livelite.services import accounts, lives, tokens

    app = create_app()
    with app.app_context():
        password = "bench-password-1"  # noqa: S105 - throwaway accounts of a temporary instance
        host = accounts.register(
            username="benchhost",
            display_name="Bench host",
            email="benchhost@example.com",
            password=password,
            birth_date=date(1990, 1, 1),
        )
        live = lives.start_live(host, title="Chat benchmark", visibility="public")
        secrets_ = []
        for index in range(senders):
            user = accounts.register(
                username=f"benchsender{index}",
                display_name=f"Sender {index}",
                email=f"benchsender{index}@example.com",
                password=password,
                birth_date=date(1990, 1, 1),
            )
            _token, secret = tokens.create_token(user, "chat bench", ["read", "write"])
            secrets_.append(secret)
        print(json.dumps({"live_id": live.id, "tokens": secrets_}))


# -- CPU and memory ------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE / 1e6
    except (FileNotFoundError, ProcessLookupError):
        return float("nan")


def system_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


class Sampler(threading.Thread):
    """Every 0.5 s: (time, server CPU s, server RSS MB, clients' CPU s, machine busy s)."""

    def __init__(self, server_pid: int, client_pids: list[int]):
        super().__init__(daemon=True)
        self.server_pid, self.client_pids = server_pid, client_pids
        self.samples: list[tuple[float, float, float, float, float]] = []
        self.stopped = threading.Event()

    def sample(self) -> tuple[float, float, float, float, float]:
        return (
            time.monotonic(),
            cpu_seconds(self.server_pid),
            rss_mb(self.server_pid),
            sum(cpu_seconds(p) for p in self.client_pids) + _self_cpu(),
            system_busy_seconds(),
        )

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.samples.append(self.sample())

    def window(self, start: float, end: float) -> dict:
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            nan = float("nan")
            return {"span": nan, "server_cpu": nan, "rss_mb": nan, "client_cpu": nan, "other_cpu": 0}
        first, last = inside[0], inside[-1]
        span = last[0] - first[0]
        server = 100 * (last[1] - first[1]) / span
        client = 100 * (last[3] - first[3]) / span
        busy = 100 * (last[4] - first[4]) / span
        return {
            "span": span,
            "server_cpu": server,
            "rss_mb": max(s[2] for s in inside),
            "client_cpu": client,
            "other_cpu": max(0.0, busy - server - client),
        }

    def cpu_over(self, seconds: float) -> float:
        """The server's CPU (% of a core) over the last ``seconds``."""
        now = self.sample()
        older = [s for s in self.samples if s[0] <= now[0] - seconds]
        if not older:
            return float("nan")
        return 100 * (now[1] - older[-1][1]) / (now[0] - older[-1][0])


def loop_ns() -> float:
    """Wall nanoseconds per empty Python loop turn in this process: how fast Python runs on
    the machine right now (a loaded or throttled machine shows several times the quiet figure)."""
    started = time.perf_counter()
    for _ in range(2_000_000):
        pass
    return (time.perf_counter() - started) / 2_000_000 * 1e9


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the Socket.IO client -------------------------------------------------------------------
class SioConnection:
    """One Engine.IO v4 / Socket.IO v5 client over a raw WebSocket, joined to ``/live``.

    A non-blocking socket driven by ``ClientProcess``'s epoll loop. Frames from the server
    are parsed in place (never masked, never compressed: we offer no extension); frames to
    it are masked as RFC 6455 requires. ``now`` is read once per read from the socket.
    """

    __slots__ = ("auth", "buf", "closed", "fragments", "out", "owner", "reason", "sock", "state", "upgraded")

    def __init__(self, owner: ClientProcess, auth: dict):
        self.owner, self.auth = owner, auth
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.buf = b""
        self.out = b""
        self.upgraded = False
        self.fragments: list[bytes] | None = None
        self.state = "connecting"  # then "open" (TCP up), "joined" or "failed"
        self.reason = ""
        self.closed = False

    def handshake(self, port: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.write(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nUser-Agent: bench-chat\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes, now: float) -> None:
        if self.buf:
            data, self.buf = self.buf + data, b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            status = data[: data.find(b"\r\n")]
            if b" 101 " not in status:
                self.fail(f"handshake: {status.decode(errors='replace')}")
                return
            data = data[end + 4 :]
            self.upgraded = True
        pos, size = 0, len(data)
        while size - pos >= 2:
            b0, length = data[pos], data[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            opcode = b0 & 0x0F
            if opcode == 1 and b0 & 0x80:  # the common case: one whole text frame
                self.packet(data, pos + head, end, now)
            else:
                self.frame(b0, data[pos + head : end], now)
            pos = end
        if pos < size:
            self.buf = data[pos:]

    def frame(self, b0: int, payload: bytes, now: float) -> None:
        opcode, final = b0 & 0x0F, b0 & 0x80
        if opcode in (1, 2):
            if final:
                self.packet(payload, 0, len(payload), now)
            else:
                self.fragments = [payload]
        elif opcode == 0 and self.fragments is not None:
            self.fragments.append(payload)
            if final:
                whole, self.fragments = b"".join(self.fragments), None
                self.packet(whole, 0, len(whole), now)
        elif opcode == 9:  # WebSocket ping
            self.write_frame(0xA, payload)
        elif opcode == 8:
            self.fail("closed by the server")

    def packet(self, data: bytes, start: int, end: int, now: float) -> None:
        kind = data[start]
        if kind == 0x34:  # "4": a Socket.IO packet
            if self.owner.on_packet(self, data, start, end, now):
                return
            if self.state != "joined":
                if data.startswith(CONNECTED_PREFIX, start):
                    self.state = "joined"
                elif data.startswith(REFUSED_PREFIX, start):
                    self.fail("refused: " + data[start + len(REFUSED_PREFIX) : end].decode(errors="replace"))
        elif kind == 0x32:  # "2": Engine.IO ping, answer pong
            self.send("3")
        elif kind == 0x30:  # "0": Engine.IO open, join the namespace
            self.send("40" + NAMESPACE + "," + json.dumps(self.auth))
        elif kind == 0x31:  # "1": close
            self.fail("closed by the server")

    def send(self, text: str) -> None:
        self.write_frame(0x1, text.encode())

    def write_frame(self, opcode: int, data: bytes) -> None:
        size = len(data)
        if size < 126:
            head = bytes((0x80 | opcode, 0x80 | size))
        elif size < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
        mask = os.urandom(4)
        if size:
            key = (mask * (size // 4 + 1))[:size]
            data = (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
        self.write(head + mask + data)

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        if self.out:
            self.out += data
            return
        try:
            sent = self.sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self.fail(f"send: {exc}")
            return
        if sent < len(data):
            self.out = data[sent:]
            self.owner.want_write(self, True)

    def flush(self) -> None:
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(f"send: {exc}")
            return
        self.out = self.out[sent:]
        if not self.out:
            self.owner.want_write(self, False)

    def fail(self, reason: str) -> None:
        if self.state != "failed":
            self.reason = reason if self.state != "joined" else f"lost: {reason}"
            self.state = "failed"
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.owner.forget(self)
            self.sock.close()


class ClientProcess:
    """Receivers (or senders) in one process: one epoll loop, commands from the main process.

    Plain epoll rather than asyncio: a receiver does one ``recv`` and a regex search per
    delivery, several times cheaper than a protocol callback through asyncio, so that a
    few processes can read tens of thousands of deliveries a second on the same 2 cores
    as the server.
    """

    def __init__(self, pipe, port: int, live_id: int, role: str, tokens: list[str]):
        self.pipe, self.port, self.live_id, self.role, self.tokens = pipe, port, live_id, role, tokens
        self.poller = select.epoll()
        self.poller.register(pipe.fileno(), select.EPOLLIN)
        self.by_fd: dict[int, SioConnection] = {}
        self.clients: list[SioConnection] = []
        self.latencies: dict[int, array.array] = {}
        self.lost = 0
        # senders: ack id -> (phase, send time); results per phase
        self.ack_ids = 0
        self.pending: dict[int, tuple[int, float]] = {}
        self.acks: dict[int, dict] = {}
        self.job = None  # a generator: yields the time it wants to run again, returns the reply

    # the loop
    def want_write(self, client: SioConnection, on: bool) -> None:
        mask = select.EPOLLIN | (select.EPOLLOUT if on else 0)
        with contextlib.suppress(OSError, KeyError):
            self.poller.modify(client.sock.fileno(), mask)

    def forget(self, client: SioConnection) -> None:
        fd = client.sock.fileno()
        if self.by_fd.pop(fd, None) is not None:
            with contextlib.suppress(OSError):
                self.poller.unregister(fd)
        if client.state == "failed" and client.reason.startswith("lost"):
            self.lost += 1

    def open(self, auth: dict) -> SioConnection:
        client = SioConnection(self, auth)
        fd = client.sock.fileno()
        err = client.sock.connect_ex((HOST, self.port))
        if err not in (0, errno.EINPROGRESS):
            client.fail(f"connect: {os.strerror(err)}")
            return client
        self.by_fd[fd] = client
        self.poller.register(fd, select.EPOLLOUT)
        return client

    def serve(self) -> None:
        pipe_fd = self.pipe.fileno()
        wake_at = None
        while True:
            timeout = -1 if wake_at is None else max(0.0, wake_at - time.monotonic())
            try:
                events = self.poller.poll(timeout)
            except InterruptedError:
                continue
            now = time.time()
            for fd, mask in events:
                if fd == pipe_fd:
                    command, *args = self.pipe.recv()
                    if command == "quit":
                        for client in list(self.by_fd.values()):
                            client.close()
                        self.pipe.send({})
                        return
                    self.job = getattr(self, "job_" + command)(*args)
                    wake_at = time.monotonic()
                    continue
                client = self.by_fd.get(fd)
                if client is None:
                    continue
                if client.state == "connecting":
                    err = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        client.fail(f"connect: {os.strerror(err)}")
                        continue
                    client.state = "open"
                    self.poller.modify(fd, select.EPOLLIN)
                    client.handshake(self.port)
                    continue
                if mask & select.EPOLLOUT and client.out:
                    client.flush()
                if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    try:
                        data = client.sock.recv(1 << 18)
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        client.fail(f"recv: {exc}")
                        continue
                    if not data:
                        client.fail("closed by the server")
                        continue
                    client.data_received(data, now)
            if self.job is not None and (wake_at is None or time.monotonic() >= wake_at - 0.0005):
                try:
                    wake_at = next(self.job)
                except StopIteration as done:
                    self.job, wake_at = None, None
                    self.pipe.send(done.value)

    # packets
    def on_packet(self, client: SioConnection, data: bytes, start: int, end: int, now: float) -> bool:
        """True when the packet was a chat delivery or an ack (nothing else to do)."""
        if data.startswith(CHAT_PREFIX, start):
            if self.role == "receivers":
                # One message per event (the contract), several with the batched baseline.
                for found in MARK.finditer(data, start, end):
                    phase = int(found.group(1))
                    bucket = self.latencies.get(phase)
                    if bucket is None:
                        bucket = self.latencies[phase] = array.array("d")
                    bucket.append(1000 * (now - float(found.group(3))))
            return True
        if data.startswith(ACK_PREFIX, start) and self.role == "senders":
            rest = data[start + len(ACK_PREFIX) : end]
            bracket = rest.find(b"[")
            phase, sent_at = self.pending.pop(int(rest[:bracket]), (None, 0.0))
            if phase is None:
                return True
            stats = self.acks[phase]
            try:
                answer = json.loads(rest[bracket:])[0]
            except (ValueError, IndexError):
                answer = {}
            if isinstance(answer, dict) and answer.get("ok"):
                stats["ok"] += 1
                stats["ack_ms"].append(1000 * (now - sent_at))
            else:
                code = answer.get("code", "?") if isinstance(answer, dict) else "?"
                stats["refused"][code] = stats["refused"].get(code, 0) + 1
            return True
        return False

    # jobs
    def job_connect(self, count: int, wave: int):
        """Open ``count`` connections, ``wave`` at a time, each wave waiting for its joins."""
        started = time.monotonic()
        connected, failures = 0, {}
        for first in range(0, count, wave):
            batch = []
            for index in range(first, min(count, first + wave)):
                auth: dict = {"live_id": self.live_id}
                if self.role == "senders" and self.tokens:
                    auth["token"] = self.tokens[index % len(self.tokens)]
                batch.append(self.open(auth))
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while time.monotonic() < deadline and any(c.state in ("connecting", "open") for c in batch):
                yield time.monotonic() + 0.01
            failed = 0
            for client in batch:
                if client.state == "joined":
                    connected += 1
                    self.clients.append(client)
                    continue
                failed += 1
                reason = "timeout" if client.state in ("connecting", "open") else client.reason.split(":")[0]
                failures[reason] = failures.get(reason, 0) + 1
                client.close()
            if failed * 2 >= len(batch):
                break  # the server stopped taking connections: stop knocking
        return {"connected": connected, "failures": failures, "seconds": time.monotonic() - started}

    def job_send(self, phase: int, rate: float, seconds: float):
        """``chat_send`` at ``rate`` a second in all, round-robin over the senders."""
        live = [c for c in self.clients if not c.closed]
        stats = self.acks[phase] = {"ok": 0, "refused": {}, "ack_ms": array.array("d"), "sent": 0}
        total = round(rate * seconds)
        start = time.monotonic() + 0.05
        for seq in range(total):
            due = start + seq / rate
            while time.monotonic() < due - 0.0005:
                yield due
            client = live[seq % len(live)]
            if client.closed:
                continue
            self.ack_ids += 1
            sent_at = time.time()
            self.pending[self.ack_ids] = (phase, sent_at)
            body = f"#bench#{phase}#{seq}#{sent_at:.6f}#"
            client.send(f'42{NAMESPACE},{self.ack_ids}["chat_send",{{"body":"{body}"}}]')
            stats["sent"] += 1
        return {"send_seconds": time.monotonic() - start}

    def job_result(self, phase: int):
        if self.role == "senders":
            stats = self.acks.get(phase, {"ok": 0, "refused": {}, "ack_ms": array.array("d"), "sent": 0})
            no_ack = sum(1 for p, _ in self.pending.values() if p == phase)
            return {**stats, "ack_ms": stats["ack_ms"].tobytes(), "no_ack": no_ack}
        yield from ()
        bucket = self.latencies.get(phase, array.array("d"))
        alive = sum(1 for c in self.clients if not c.closed)
        return {"latencies": bucket.tobytes(), "alive": alive, "lost": self.lost}


def client_main(pipe, port: int, live_id: int, role: str, tokens: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    ClientProcess(pipe, port, live_id, role, tokens).serve()


class Clients:
    """The receiver processes and the sender process of one level."""

    def __init__(self, server: Server, workers: int, senders: int):
        context = multiprocessing.get_context("fork")
        self.procs, self.pipes = [], []
        for index in range(workers + 1):
            role = "senders" if index == workers else "receivers"
            mine, theirs = context.Pipe()
            proc = context.Process(
                target=client_main,
                args=(theirs, server.port, server.live_id, role, server.tokens if role == "senders" else []),
                daemon=True,
            )
            proc.start()
            self.procs.append(proc)
            self.pipes.append(mine)
        self.senders = senders

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    @property
    def receivers(self):
        return self.pipes[:-1]

    @property
    def sender(self):
        return self.pipes[-1]

    def ask(self, pipes, *command, timeout: float = 600) -> list[dict]:
        for pipe in pipes:
            pipe.send(command)
        replies = []
        for pipe in pipes:
            if not pipe.poll(timeout):
                raise RuntimeError(f"a client process did not answer {command[0]} in {timeout} s")
            replies.append(pipe.recv())
        return replies

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ask(self.pipes, "quit", timeout=10)
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


# -- profiles ---------------------------------------------------------------------------------
class Profile:
    """``py-spy record`` on the server for one stretch (``--py-spy PATH``; not a requirement)."""

    def __init__(self, exe: str | None, pid: int, folder: Path | None, name: str):
        self.path, self.process = (folder / name if folder else None), None
        if exe and self.path:
            self.process = subprocess.Popen(  # noqa: S603 - the user's py-spy, fixed options
                [exe, "record", "--pid", str(pid), "--format", "raw", "--function", "--nonblocking",
                 "--rate", "200", "-o", str(self.path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip

    def stop(self) -> list[str]:
        if self.process is None:
            return []
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return []
        return summarise_profile(self.path) if self.path and self.path.exists() else []


PACKAGES = ("livelite", "sqlalchemy", "socketio", "engineio", "flask_socketio", "eventlet", "flask", "json")


def _package(frame: str) -> str:
    where = frame.rsplit("(", 1)[-1]
    for name in PACKAGES:
        if where.startswith(name + "/") or f"/{name}/" in where:
            return name
    return "other"


def summarise_profile(path: Path, top: int = 12) -> list[str]:
    """Where the server's busy samples went: own time by package and by function, and
    the livelite and Socket.IO functions with the most time under them."""
    own: dict[str, int] = {}
    by_package: dict[str, int] = {}
    under: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples, frames = int(count), stack.split(";")
        total += samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
        by_package[_package(frames[-1])] = by_package.get(_package(frames[-1]), 0) + samples
        for frame in set(frames):
            under[frame] = under.get(frame, 0) + samples
    if not total:
        return []

    def pct(n: int) -> str:
        return f"{100 * n / total:.0f} %"

    lines = [
        f"{total} busy samples; own time by package: "
        + ", ".join(f"{k} {pct(v)}" for k, v in sorted(by_package.items(), key=lambda kv: -kv[1]))
    ]
    lines.append(
        "own time, top functions: "
        + "; ".join(f"{k} {pct(v)}" for k, v in sorted(own.items(), key=lambda kv: -kv[1])[:top])
    )
    mine = [
        (k, v)
        for k, v in under.items()
        if _package(k) in ("livelite", "socketio", "engineio", "flask_socketio")
    ]
    lines.append(
        "time under (inclusive): "
        + "; ".join(f"{k} {pct(v)}" for k, v in sorted(mine, key=lambda kv: -kv[1])[:top])
    )
    return lines


# -- a level ----------------------------------------------------------------------------------
def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Result:
    target: str
    clients: int
    rate: float
    connected: int
    join_seconds: float
    join_failures: dict
    settle_seconds: float
    sent: int
    acked_ok: int
    refused: dict
    no_ack: int
    delivered: int
    expected: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    ack_p50_ms: float
    ack_p99_ms: float
    server_cpu: float
    server_ms_per_message: float
    rss_mb: float
    idle_rss_mb: float
    client_cpu: float
    other_cpu: float
    load1: float
    loop_ns: float
    disconnected: int
    join_server_cpu: float

    @property
    def loss_pct(self) -> float:
        return 100 * (1 - self.delivered / self.expected) if self.expected else float("nan")


def senders_for(rate: float) -> int:
    return max(MIN_SENDERS, math.ceil(rate / PER_SENDER_RATE))


def run_target(
    target: str, clients: int, rates: list[float], args, tmp: Path, profiles: dict
) -> list[Result]:
    senders = max(senders_for(r) for r in rates)
    server = start_server(target, tmp, senders, args.max_conns, args.batch_ms)
    crowd = None
    sampler = None
    try:
        time.sleep(1.0)
        idle_rss = rss_mb(server.process.pid)
        crowd = Clients(server, args.workers, senders)
        sampler = Sampler(server.process.pid, crowd.pids)
        sampler.start()
        # Senders first (they are few), then the receivers in waves.
        sent_join = crowd.ask([crowd.sender], "connect", senders, senders)[0]
        if sent_join["connected"] < senders:
            raise RuntimeError(
                f"{target}: only {sent_join['connected']} of {senders} senders joined: {sent_join}"
            )
        share = [
            clients // args.workers + (1 if i < clients % args.workers else 0) for i in range(args.workers)
        ]
        wave = max(1, args.wave // args.workers)
        join_start = time.monotonic()
        profile = Profile(args.py_spy, server.process.pid, args.profile_dir, f"{target}-{clients}-join.txt")
        for pipe, count in zip(crowd.receivers, share, strict=True):
            pipe.send(("connect", count, wave))
        joins = []
        for pipe in crowd.receivers:
            if not pipe.poll(CONNECT_TIMEOUT_S * (clients / max(1, args.wave) + 2)):
                raise RuntimeError("receivers did not finish connecting")
            joins.append(pipe.recv())
        join_seconds = time.monotonic() - join_start
        profiles[(target, clients, 0)] = profile.stop()
        join_cpu = sampler.window(join_start, time.monotonic())["server_cpu"]
        connected = sum(j["connected"] for j in joins)
        failures: dict[str, int] = {}
        for j in joins:
            for reason, n in j["failures"].items():
                failures[reason] = failures.get(reason, 0) + n
        print(
            f"  {target}: {connected}/{clients} receivers joined in {join_seconds:.1f} s "
            f"(server {join_cpu:.0f} % CPU){'; failures ' + str(failures) if failures else ''}",
            flush=True,
        )
        # Let the joins' own traffic (LiveLite's viewers broadcasts) die down.
        settle_start = time.monotonic()
        time.sleep(2.0)
        while time.monotonic() - settle_start < args.settle_max:
            if sampler.cpu_over(2.0) < 15:
                break
            time.sleep(1.0)
        settle_seconds = time.monotonic() - settle_start
        results = []
        for phase, rate in enumerate(rates, start=1):
            window_start = time.monotonic()
            profile = Profile(
                args.py_spy, server.process.pid, args.profile_dir, f"{target}-{clients}-{rate:g}.txt"
            )
            crowd.ask([crowd.sender], "send", phase, rate, args.seconds, timeout=args.seconds * 3 + 60)
            window_end = time.monotonic()
            profiles[(target, clients, rate)] = profile.stop()
            load1 = os.getloadavg()[0]
            speed = loop_ns()
            usage = sampler.window(window_start, window_end)
            time.sleep(args.drain)
            sent = crowd.ask([crowd.sender], "result", phase)[0]
            got = crowd.ask(crowd.receivers, "result", phase)
            latencies: list[float] = []
            for reply in got:
                values = array.array("d")
                values.frombytes(reply["latencies"])
                latencies.extend(values)
            latencies.sort()
            acks = array.array("d")
            acks.frombytes(sent["ack_ms"])
            ack_sorted = sorted(acks)
            alive = sum(r["alive"] for r in got)
            result = Result(
                target=target,
                clients=clients,
                rate=rate,
                connected=connected,
                join_seconds=join_seconds,
                join_failures=failures,
                settle_seconds=settle_seconds,
                sent=sent["sent"],
                acked_ok=sent["ok"],
                refused=sent["refused"],
                no_ack=sent["no_ack"],
                delivered=len(latencies),
                expected=sent["ok"] * alive,
                p50_ms=percentile(latencies, 50),
                p95_ms=percentile(latencies, 95),
                p99_ms=percentile(latencies, 99),
                max_ms=latencies[-1] if latencies else float("nan"),
                ack_p50_ms=percentile(ack_sorted, 50),
                ack_p99_ms=percentile(ack_sorted, 99),
                server_cpu=usage["server_cpu"],
                server_ms_per_message=10 * usage["server_cpu"] * usage["span"] / max(1, sent["sent"]),
                rss_mb=usage["rss_mb"],
                idle_rss_mb=idle_rss,
                client_cpu=usage["client_cpu"],
                other_cpu=usage["other_cpu"],
                load1=load1,
                loop_ns=speed,
                disconnected=connected - alive,
                join_server_cpu=join_cpu,
            )
            print("  " + one_line(result), flush=True)
            results.append(result)
            if result.acked_ok == 0:
                print(
                    f"  {target}: no chat_send was acknowledged ok (refused {result.refused}, "
                    f"no answer {result.no_ack}): is the handler there?",
                    flush=True,
                )
        return results
    finally:
        if sampler is not None:
            sampler.stopped.set()
        if crowd is not None:
            crowd.close()
        stop_process(server.process)


# -- output -------------------------------------------------------------------------------------
def one_line(r: Result) -> str:
    return (
        f"{r.target} N={r.clients} M={r.rate:g}/s: sent {r.sent}, ok {r.acked_ok}"
        f"{', refused ' + str(r.refused) if r.refused else ''}, delivered {r.delivered}/{r.expected} "
        f"(loss {r.loss_pct:.2f} %), latency p50 {r.p50_ms:.0f} / p95 {r.p95_ms:.0f} / p99 {r.p99_ms:.0f} / "
        f"max {r.max_ms:.0f} ms, ack p50 {r.ack_p50_ms:.0f} / p99 {r.ack_p99_ms:.0f} ms, server {r.server_cpu:.0f} % "
        f"CPU ({r.server_ms_per_message:.1f} ms per message) {r.rss_mb:.0f} MB, clients {r.client_cpu:.0f} %, other {r.other_cpu:.0f} %, load {r.load1:.1f}, loop {r.loop_ns:.0f} ns"
    )


def fmt(value: float, digits: int = 0) -> str:
    return "—" if value != value else f"{value:.{digits}f}"  # NaN check


def print_tables(results: list[Result]) -> None:
    print(
        "\n| target | N | M msg/s | connected (join s) | sent / acked ok | delivered / expected (loss) "
        "| latency p50 / p95 / p99 / max | ack p50 / p99 | server CPU (ms per msg) | server RSS (idle) "
        "| client CPU | other | load | loop |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.target} | {r.clients} | {r.rate:g} | {r.connected} ({r.join_seconds:.1f} s) | {r.sent} / {r.acked_ok} "
            f"| {r.delivered} / {r.expected} ({fmt(r.loss_pct, 2)} %) "
            f"| {fmt(r.p50_ms)} / {fmt(r.p95_ms)} / {fmt(r.p99_ms)} / {fmt(r.max_ms)} ms "
            f"| {fmt(r.ack_p50_ms)} / {fmt(r.ack_p99_ms)} ms | {fmt(r.server_cpu)} % ({fmt(r.server_ms_per_message, 1)}) "
            f"| {fmt(r.rss_mb)} MB ({fmt(r.idle_rss_mb)}) | {fmt(r.client_cpu)} % | {fmt(r.other_cpu)} % | {r.load1:.1f} | {r.loop_ns:.0f} ns |"
        )
    pairs: dict[tuple, dict[str, Result]] = {}
    for r in results:
        pairs.setdefault((r.clients, r.rate), {})[r.target] = r

    def ratio(a: float, b: float) -> str:
        return "—" if not (a == a and b == b) or b <= 0 else f"{a / b:.2f}×"

    for other in ("livelite", "batched"):
        rows = [(k, v) for k, v in sorted(pairs.items()) if other in v and "baseline" in v]
        if not rows:
            continue
        print(f"\n{other} / baseline:\n")
        print("| N | M msg/s | p50 | p99 | server CPU | joins took | p99 < 250 ms, no loss |")
        print("|---|---|---|---|---|---|---|")
        for (clients, rate), pair in rows:
            mine, base = pair[other], pair["baseline"]
            goal = mine.p99_ms < 250 and mine.loss_pct < 0.1 and mine.connected == clients
            print(
                f"| {clients} | {rate:g} | {ratio(mine.p50_ms, base.p50_ms)} | {ratio(mine.p99_ms, base.p99_ms)} "
                f"| {ratio(mine.server_cpu, base.server_cpu)} | {ratio(mine.join_seconds, base.join_seconds)} "
                f"| {'yes' if goal else 'no'} |"
            )


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({model}), load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M %Z')}"


def wait_for_quiet(limit_s: float, max_pct: float = 20.0) -> None:
    """Wait (at most ``limit_s``) until other programs use under ``max_pct`` % of a core."""
    deadline = time.monotonic() + limit_s
    while True:
        busy, own, started = system_busy_seconds(), _self_cpu(), time.monotonic()
        time.sleep(3)
        other = 100 * ((system_busy_seconds() - busy) - (_self_cpu() - own)) / (time.monotonic() - started)
        if other < max_pct or time.monotonic() > deadline:
            if other >= max_pct:
                print(f"  (the machine is still busy: {other:.0f} % of a core used by other programs)")
            return


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="100,500,1000,2000", help="receivers per level, comma-separated")
    parser.add_argument("--rate", default="5,20", help="messages per second in total, comma-separated")
    parser.add_argument("--seconds", type=float, default=20, help="sending time per rate")
    parser.add_argument("--drain", type=float, default=5, help="wait for late deliveries after sending")
    parser.add_argument("--targets", default="baseline,livelite")
    parser.add_argument("--workers", type=int, default=4, help="receiver processes")
    parser.add_argument("--wave", type=int, default=100, help="receivers connecting at once (all workers)")
    parser.add_argument(
        "--settle-max", type=float, default=120, help="longest wait for the server to go quiet"
    )
    parser.add_argument("--batch-ms", type=int, default=200, help="the batched target's gathering time")
    parser.add_argument(
        "--max-conns", type=int, default=0, help="eventlet's green-thread pool (0: as shipped)"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=0, help="wait up to this long for other load to go"
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--py-spy", help="py-spy executable: profile the server during joins and sending")
    parser.add_argument("--setup-livelite", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup_livelite is not None:
        setup_livelite(args.setup_livelite)
        return 0
    raise_fd_limit()
    args.profile_dir = Path(tempfile.mkdtemp(prefix="bench-chat-profiles-")) if args.py_spy else None
    clients = [int(v) for v in args.clients.split(",") if v]
    rates = [float(v) for v in args.rate.split(",") if v]
    targets = [t for t in args.targets.split(",") if t]
    for target in targets:
        if target not in ("livelite", "baseline", "batched"):
            parser.error(f"unknown target {target}")
    print(f"Machine: {machine()}")
    print(
        f"Senders: {max(senders_for(r) for r in rates)} (≤ {PER_SENDER_RATE:g} msg/s each; LiveLite runs with "
        f"LIVELITE_CHAT_MESSAGES_PER_10S={CHAT_LIMIT_PER_10S}); {args.workers} receiver processes; "
        f"eventlet pool: {args.max_conns or 'as shipped (1024)'}",
        flush=True,
    )
    results: list[Result] = []
    profiles: dict[tuple, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        for count in clients:
            for target in targets:
                if args.quiet_wait:
                    wait_for_quiet(args.quiet_wait)
                print(f"\n{target}, {count} clients:", flush=True)
                try:
                    results.extend(run_target(target, count, rates, args, Path(tmp), profiles))
                except RuntimeError as exc:
                    print(f"  {target} N={count} failed: {exc}", flush=True)
                    log = sorted(Path(tmp).glob(f"{target}-*.log"))
                    if log:
                        print("  server log (end):\n" + log[-1].read_text()[-3000:], flush=True)
    print_tables(results)
    if args.profile_dir:
        print(f"\npy-spy raw profiles (collapsed stacks): {args.profile_dir}")
    for (target, count, rate), lines in profiles.items():
        if lines:
            stretch = "joins" if not rate else f"sending {rate:g} msg/s"
            print(f"\nServer profile, {target}, {count} clients, {stretch}:")
            for line in lines:
                print("  " + line)
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "loss_pct": r.loss_pct} for r in results], indent=2))
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())

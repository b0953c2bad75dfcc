#!/usr/bin/env python
"""Gifts per second on SQLite: C senders in one live sending gifts as fast as they are
acknowledged, through Socket.IO (``gift_send``) and the HTTP API, then the books checked.

    python bench/gifts.py [--senders 1,10,50] [--seconds 20] [--targets socket,http]
        [--inflight 1] [--retry-pct 5] [--gift Heart] [--lift-limit] [--quickack]
        [--json out.json]

The script starts ``python app.py`` once, in a temporary instance folder (SQLite) on a
free port of 127.0.0.1, RTMP off, ``LIVELITE_PUBLISHER_GRACE_SECONDS=86400`` (the lives
have no publisher; without it the media tick would end them after 60 s). Once it
answers ``/healthz`` a setup process (this script with ``--setup``, app context, no
server) registers the first account (so an admin) and one more host per level, starts a
public live for each (``services.lives.start_live``: every level has a live of its own,
so that each starts with no gifts), and makes the senders: adults (born 1990, above
``GIFT_MIN_AGE``), each with a read+write API token and ``GRANT`` coins granted by the
admin through ``services.coins.grant`` (a ``grant`` ledger transaction).

Rate limits: ``gift_send`` is limited by a constant in
livelite/blueprints/lives/gift_events.py, ``SEND_RATE = ("gift_send", 10, 1)`` (a token
bucket of 10 a second per person; no setting or environment variable raises it). The
benchmark runs the app as shipped and the senders obey the limit as a client should: a
``rate_limited`` refusal makes that sender wait the ``retry_after`` it carries (the
server rounds it up to 1 s) and send the same key again. ``--lift-limit`` starts the
server through a launcher that sets ``SEND_RATE`` to 10⁹ a second before the app starts
(the app's files are not changed), to see what the server itself can carry. The HTTP
API (``POST /api/v1/lives/<id>/gifts``) has no rate limit.

For each target and each number of senders C a fresh client process:

* ``socket``: C Socket.IO connections to ``/live`` (``chat.SioConnection``/
  ``chat.ClientProcess`` of bench/chat.py: raw Engine.IO 4 / Socket.IO 5 over WebSocket,
  epoll), auth ``{live_id, token}``. Each sender keeps ``--inflight`` ``gift_send``
  ``{receiver_id: host, gift_id, quantity: 1, idempotency_key}`` in flight, sending the
  next as soon as an acknowledgement comes back. The senders are also the room's
  audience: they receive every ``gift`` and ``top_gifters`` broadcast (counted, not
  parsed). ``--quickack`` makes them acknowledge every TCP segment at once
  (``TCP_QUICKACK`` after each read): the server writes the room's events and the ack as
  separate small segments without ``TCP_NODELAY``, so with delayed ACKs (40 ms on Linux)
  Nagle holds the ack back; the option shows what ``TCP_NODELAY`` on the server would buy.
* ``http``: C × ``--inflight`` threads, each with its own keep-alive connection, POST
  the same body with ``Authorization: Bearer <token>``. No one is in the room.

``--retry-pct`` (5) of the sends repeat a key this sender already had acknowledged (a
retry): they must come back ok (``replayed``, HTTP 200) with the same ``gift_send`` id,
and charge nothing. After ``--seconds`` no new send starts; acknowledgements still
outstanding are waited for (up to ``DRAIN_S``); those that never come are *unanswered*.

Figures per level: new gifts acknowledged ok per second (from the first send to the last
ack), acknowledgement time of new gifts p50/p95/p99/max (and of retries, p50), refusals
by code, new gifts per sender (fewest / median / most: how evenly they were served),
server CPU (% of one core: one eventlet process, 100 % is its ceiling) and RSS, the
client's CPU and the rest of the machine's. Then, with the server still up and
idle: ``flask --app app ledger-check`` on the instance (exit status and summary), and a
check process (``--verify``, app context) that the live's ``GiftSend`` rows are exactly
the keys acknowledged ok (keys unanswered may or may not be there; a row of a refused
key, a missing row, or a key charged twice is a failure), and that every sender's
coins are ``GRANT`` − the coins of their gifts (all levels so far).

The exit status is non-zero when ledger-check fails, a count disagrees, a retry came
back with another id, or nothing was acknowledged. Not a test: not run by CI.
"""

from __future__ import annotations

import argparse
import array
import heapq
import http.client
import json
import math
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chat  # bench/chat.py: server helpers, sampler, Socket.IO client

REPO_ROOT = chat.REPO_ROOT
HOST = chat.HOST
GRANT = 1_000_000  # coins granted to each sender (the grant's maximum)
DRAIN_S = 30.0  # after the sending time, wait this long for outstanding acknowledgements
WAVE = 50
EVENT_PREFIX = b"42/live,"
ACK_PREFIX = chat.ACK_PREFIX


# -- server, setup, checks -------------------------------------------------------------------
def launcher_argv(lift_limit: bool) -> list[str]:
    """``python app.py``, or the same with gift_send's token bucket lifted (bench only)."""
    if not lift_limit:
        return [sys.executable, "app.py"]
    code = (
        "import sys, runpy, warnings; "
        "warnings.filterwarnings('ignore', message=r'(?s).*Eventlet is deprecated'); "
        "import eventlet; eventlet.monkey_patch(); "
        "import livelite.blueprints.lives.gift_events as g; "
        "g.SEND_RATE = ('gift_send', 1e9, 1.0); "
        "sys.argv = ['app.py']; runpy.run_path('app.py', run_name='__main__')"
    )
    return [sys.executable, "-c", code]


def start_server(tmp: Path, lift_limit: bool) -> tuple[subprocess.Popen, dict, int, Path]:
    port = chat.free_port()
    instance = tmp / "instance"
    instance.mkdir()
    log_path = tmp / "server.log"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("LIVELITE_") and k != "DATABASE_URL"}
    env = {
        **inherited,
        "PYTHONUNBUFFERED": "1",
        "LIVELITE_INSTANCE_PATH": str(instance),
        "LIVELITE_HOST": HOST,
        "LIVELITE_PORT": str(port),
        "LIVELITE_RTMP_ENABLED": "false",
        "LIVELITE_PUBLISHER_GRACE_SECONDS": "86400",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            launcher_argv(lift_limit), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 90
    while not chat.http_ok(port, "/healthz"):
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}; see {log_path}")
        if time.monotonic() > deadline:
            chat.stop_process(process)
            raise RuntimeError(f"the server did not answer /healthz in 90 s; see {log_path}")
        time.sleep(0.3)
    return process, env, port, log_path


def in_app(env: dict, *options: str, timeout: float = 600) -> dict:
    """Run this script with ``options`` in the instance's app context; its last line is JSON."""
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(Path(__file__).resolve()), *options],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{options[0]} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def app_context():
    import warnings

    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    sys.path.insert(0, str(REPO_ROOT))
    from livelite import create_app

    return create_app().app_context()


def setup(senders: int, lives_count: int, gift_name: str) -> None:
    """Hosts with a public live each, senders with write tokens and granted coins."""
    from datetime import date

    with app_context():
        from livelite.models import Role
        from livelite.services import accounts, coins, gifts, lives, tokens

        password = "bench-password-1"  # noqa: S105 - throwaway accounts of a temporary instance

        def person(name: str, role=None):
            return accounts.register(
                username=name,
                display_name=name,
                email=f"{name}@example.com",
                password=password,
                birth_date=date(1990, 1, 1),
                role=role,
            )

        admin = person("benchhost0")  # the first account: an admin
        hosts = [admin] + [person(f"benchhost{i}", Role.CREATOR) for i in range(1, lives_count)]
        live_rows = [
            {
                "live_id": lives.start_live(h, title=f"Gift benchmark {i}", visibility="public").id,
                "host_id": h.id,
            }
            for i, h in enumerate(hosts)
        ]
        found = [g for g in gifts.catalogue() if g.name == gift_name]
        if not found:
            raise SystemExit(f"no gift called {gift_name!r} in the catalogue")
        people = []
        for index in range(senders):
            user = person(f"benchsender{index}")
            _token, secret = tokens.create_token(user, "gift bench", ["read", "write"])
            coins.grant(admin, user.username, GRANT, "Gift benchmark", f"bench-grant-{index}")
            people.append({"id": user.id, "token": secret})
        print(
            json.dumps(
                {"lives": live_rows, "gift_id": found[0].id, "gift_coins": found[0].coins, "senders": people}
            )
        )


def verify(path: str) -> None:
    """The database against what the clients were told (see the module docstring)."""
    spec = json.loads(Path(path).read_text())
    with app_context():
        from sqlalchemy import func, select

        from livelite.extensions import db
        from livelite.models import GiftSend, LedgerTransaction
        from livelite.services import ledger

        problems: list[str] = []
        rows = db.session.execute(
            select(
                GiftSend.sender_id, GiftSend.live_id, GiftSend.coins, LedgerTransaction.idempotency_key
            ).join(LedgerTransaction, LedgerTransaction.id == GiftSend.transaction_id)
        ).all()
        by_sender: dict[int, list[tuple[int, int, str]]] = {}
        for sender_id, live_id, coins, key in rows:
            by_sender.setdefault(sender_id, []).append((live_id, coins, key))
        live_rows = db.session.scalar(
            select(func.count()).select_from(GiftSend).where(GiftSend.live_id == spec["live_id"])
        )
        unanswered_in_db = 0
        for uid_text, seen in spec["senders"].items():
            uid = int(uid_text)
            prefix = f"gift:{uid}:"
            mine = by_sender.get(uid, [])
            keys = [key[len(prefix) :] for _live, _coins, key in mine]
            if len(keys) != len(set(keys)):
                problems.append(f"sender {uid}: a key has more than one GiftSend row")
            stored, acked, unanswered = set(keys), set(seen["acked"]), set(seen["unanswered"])
            missing = acked - stored
            extra = stored - acked
            unexplained = extra - unanswered
            unanswered_in_db += len(extra & unanswered)
            if missing:
                problems.append(
                    f"sender {uid}: {len(missing)} keys acked ok have no GiftSend, e.g. {sorted(missing)[:3]}"
                )
            if unexplained:
                problems.append(
                    f"sender {uid}: {len(unexplained)} GiftSend rows of keys never acked ok, e.g. {sorted(unexplained)[:3]}"
                )
            charged = sum(coins for _live, coins, _key in mine)
            if charged != spec["gift_coins"] * len(stored):
                problems.append(f"sender {uid}: rows charged {charged} coins for {len(stored)} gifts")
            balance = ledger.balance(uid)
            if balance != spec["granted"] - charged:
                problems.append(
                    f"sender {uid}: balance {balance}, granted {spec['granted']} − sent {charged}"
                )
        expected = spec["live_acked"]
        if not expected <= live_rows <= expected + spec["live_unanswered"]:
            problems.append(
                f"live {spec['live_id']}: {live_rows} GiftSend rows, {expected} distinct keys acked ok "
                f"(+ {spec['live_unanswered']} unanswered)"
            )
        print(
            json.dumps(
                {
                    "problems": problems,
                    "live_rows": live_rows,
                    "senders_checked": len(spec["senders"]),
                    "unanswered_in_db": unanswered_in_db,
                }
            )
        )


def ledger_check(env: dict) -> dict:
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "flask", "--app", "app", "ledger-check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    mismatches = [line for line in result.stderr.splitlines() if line.startswith("MISMATCH")]
    return {
        "status": result.returncode,
        "summary": lines[-1] if lines else result.stderr.strip()[-300:],
        "mismatches": mismatches[:10],
    }


# -- what the clients count --------------------------------------------------------------------
class Tally:
    """One client process's counts for a level (merged from threads for HTTP)."""

    def __init__(self):
        self.sent_new = self.sent_retry = 0
        self.ok_new = self.ok_retry = 0
        self.retry_bad = 0  # a retry acked ok with another id, or not marked replayed
        self.new_replayed = 0  # a new key answered as already used
        self.refused: dict[str, int] = {}
        self.lat_new = array.array("d")
        self.lat_retry = array.array("d")
        self.acked: dict[int, dict[str, int]] = {}  # sender id -> {key: gift_send id}
        self.unanswered: dict[int, list[str]] = {}
        self.first_send = math.inf
        self.last_ack = 0.0

    def merge(self, other: Tally) -> None:
        for name in ("sent_new", "sent_retry", "ok_new", "ok_retry", "retry_bad", "new_replayed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for code, n in other.refused.items():
            self.refused[code] = self.refused.get(code, 0) + n
        self.lat_new.extend(other.lat_new)
        self.lat_retry.extend(other.lat_retry)
        for uid, keys in other.acked.items():
            self.acked.setdefault(uid, {}).update(keys)
        for uid, keys in other.unanswered.items():
            self.unanswered.setdefault(uid, []).extend(keys)
        self.first_send = min(self.first_send, other.first_send)
        self.last_ack = max(self.last_ack, other.last_ack)

    def answer(self, uid: int, key: str, retry_of: int | None, body: dict, ms: float) -> float | None:
        """Count one answer; returns seconds to wait before sending ``key`` again, else None."""
        self.last_ack = time.monotonic()
        if body.get("ok"):
            send_id = (body.get("gift_send") or {}).get("id")
            replayed = bool(body.get("replayed"))
            if retry_of is None:
                self.ok_new += 1
                self.lat_new.append(ms)
                self.new_replayed += replayed
                self.acked.setdefault(uid, {})[key] = send_id
            else:
                self.ok_retry += 1
                self.lat_retry.append(ms)
                self.retry_bad += send_id != retry_of or not replayed
            return None
        code = str(body.get("code", "?"))
        self.refused[code] = self.refused.get(code, 0) + 1
        if code == "rate_limited":
            return float(body.get("retry_after") or 1)
        return None

    def result(self) -> dict:
        data = dict(vars(self))
        data["lat_new"], data["lat_retry"] = self.lat_new.tobytes(), self.lat_retry.tobytes()
        return data

    @classmethod
    def from_result(cls, data: dict) -> Tally:
        tally = cls()
        vars(tally).update(data)
        tally.lat_new, tally.lat_retry = array.array("d"), array.array("d")
        tally.lat_new.frombytes(data["lat_new"])
        tally.lat_retry.frombytes(data["lat_retry"])
        return tally


def next_key(rng: random.Random, tag: str, counter: list[int], acked: dict[str, int], retry_pct: float):
    """(key, the gift_send id a retry must get back, or None for a new key)."""
    if acked and rng.random() * 100 < retry_pct:
        key = rng.choice(list(acked)) if len(acked) < 64 else rng.choice(list(acked)[-64:])
        return key, acked[key]
    counter[0] += 1
    return f"{tag}-{counter[0]}", None


# -- the Socket.IO senders ----------------------------------------------------------------------
class SocketSenders(chat.ClientProcess):
    """The senders of a level on chat.py's epoll loop, ``gift_send`` instead of ``chat_send``."""

    def __init__(self, pipe, port: int, live_id: int, people: list[dict], params: dict):
        super().__init__(pipe, port, live_id, "senders", [p["token"] for p in people])
        self.by_token = {p["token"]: p["id"] for p in people}
        self.params = params
        self.rng = random.Random(params["seed"])  # noqa: S311 - choosing retries
        self.tally = Tally()
        self.counters: dict[int, list[int]] = {}
        self.waiting: dict[int, tuple] = {}  # ack id -> (client, uid, key, retry_of, sent_at)
        self.delayed: list[tuple] = []  # (due, n, client, uid, key, retry_of) after rate_limited
        self.deadline = 0.0
        self.events = 0

    def on_packet(self, client, data: bytes, start: int, end: int, now: float) -> bool:
        if self.params["quickack"]:
            # Acknowledge the server's segments at once (the kernel drops back to delayed
            # ACKs by itself, so again after every read).
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if data.startswith(EVENT_PREFIX, start):
            self.events += 1  # gift, top_gifters, balance, viewers…: the room's traffic
            return True
        if not data.startswith(ACK_PREFIX, start):
            return False
        rest = data[start + len(ACK_PREFIX) : end]
        bracket = rest.find(b"[")
        entry = self.waiting.pop(int(rest[:bracket]), None)
        if entry is None:
            return True
        client, uid, key, retry_of, sent_at = entry
        try:
            body = json.loads(rest[bracket:])[0]
        except (ValueError, IndexError):
            body = {}
        wait = self.tally.answer(
            uid, key, retry_of, body if isinstance(body, dict) else {}, 1000 * (now - sent_at)
        )
        if time.monotonic() >= self.deadline or client.closed:
            return True
        if wait is not None:
            heapq.heappush(self.delayed, (time.monotonic() + wait, id(entry), client, uid, key, retry_of))
        else:
            self.send_gift(client, uid)
        return True

    def forget(self, client) -> None:
        super().forget(client)
        for ack_id, entry in list(self.waiting.items()):
            if entry[0] is client:
                del self.waiting[ack_id]
                self.tally.unanswered.setdefault(entry[1], []).append(entry[2])

    def send_gift(self, client, uid: int, key: str | None = None, retry_of: int | None = None) -> None:
        if key is None:
            counter = self.counters.setdefault(uid, [0])
            acked = self.tally.acked.get(uid, {})
            key, retry_of = next_key(self.rng, self.params["tag"], counter, acked, self.params["retry_pct"])
            if retry_of is None:
                self.tally.sent_new += 1
            else:
                self.tally.sent_retry += 1
        self.ack_ids += 1
        self.waiting[self.ack_ids] = (client, uid, key, retry_of, time.time())
        payload = {
            "receiver_id": self.params["receiver_id"],
            "gift_id": self.params["gift_id"],
            "quantity": 1,
            "idempotency_key": key,
        }
        client.send(f'42{chat.NAMESPACE},{self.ack_ids}["gift_send",{json.dumps(payload)}]')

    def job_gifts(self):
        seconds, inflight = self.params["seconds"], self.params["inflight"]
        senders = [(c, self.by_token[c.auth["token"]]) for c in self.clients if not c.closed]
        start = time.monotonic()
        self.tally.first_send = start
        self.deadline = start + seconds
        for client, uid in senders:
            for _ in range(inflight):
                self.send_gift(client, uid)
        while time.monotonic() < self.deadline:
            now = time.monotonic()
            while self.delayed and self.delayed[0][0] <= now:
                _due, _n, client, uid, key, retry_of = heapq.heappop(self.delayed)
                if not client.closed:
                    self.send_gift(client, uid, key, retry_of)
            # Every 50 ms at least: a rate_limited ack may have queued a resend meanwhile.
            yield min(self.deadline, self.delayed[0][0] if self.delayed else self.deadline, now + 0.05)
        drain_end = time.monotonic() + DRAIN_S
        while self.waiting and time.monotonic() < drain_end:
            yield time.monotonic() + 0.01
        for _client, uid, key, _retry_of, _sent_at in self.waiting.values():
            self.tally.unanswered.setdefault(uid, []).append(key)
        self.waiting.clear()
        return {
            **self.tally.result(),
            "events": self.events,
            "alive": sum(1 for c in self.clients if not c.closed),
        }


def socket_main(pipe, port: int, live_id: int, people: list[dict], params: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    SocketSenders(pipe, port, live_id, people, params).serve()


# -- the HTTP senders -------------------------------------------------------------------------
def http_main(pipe, port: int, live_id: int, people: list[dict], params: dict) -> None:
    """``--inflight`` threads per sender, each with a keep-alive connection."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    path = f"/api/v1/lives/{live_id}/gifts"
    go = threading.Event()
    tallies: list[Tally] = []
    shared_acked: dict[int, dict[str, int]] = {p["id"]: {} for p in people}
    counters = {p["id"]: [0] for p in people}
    lock = threading.Lock()
    state = {"deadline": 0.0}

    def worker(person: dict, seed: int) -> None:
        uid, rng, tally = person["id"], random.Random(seed), Tally()  # noqa: S311
        tallies.append(tally)
        headers = {"Authorization": f"Bearer {person['token']}", "Content-Type": "application/json"}
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        go.wait()
        tally.first_send = time.monotonic()
        key = retry_of = None
        while time.monotonic() < state["deadline"]:
            if key is None:
                with lock:
                    key, retry_of = next_key(
                        rng, params["tag"], counters[uid], shared_acked[uid], params["retry_pct"]
                    )
                if retry_of is None:
                    tally.sent_new += 1
                else:
                    tally.sent_retry += 1
            body = json.dumps(
                {
                    "receiver_id": params["receiver_id"],
                    "gift_id": params["gift_id"],
                    "quantity": 1,
                    "idempotency_key": key,
                }
            )
            started = time.perf_counter()
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                tally.unanswered.setdefault(uid, []).append(key)
                key = None
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
                continue
            ms = 1000 * (time.perf_counter() - started)
            try:
                data = json.loads(raw)
            except ValueError:
                data = {}
            if response.status in (200, 201):
                answer = {**data, "ok": True, "replayed": response.status == 200}
            else:
                error = data.get("error", {}) if isinstance(data, dict) else {}
                answer = {"ok": False, "code": error.get("code") or f"http_{response.status}"}
                if response.getheader("Retry-After"):
                    answer["code"], answer["retry_after"] = (
                        "rate_limited",
                        float(response.getheader("Retry-After")),
                    )
            wait = tally.answer(uid, key, retry_of, answer, ms)
            if answer["ok"] and retry_of is None:
                with lock:
                    shared_acked[uid][key] = tally.acked[uid][key]
            if wait is not None:
                time.sleep(min(wait, max(0.0, state["deadline"] - time.monotonic())))
                if time.monotonic() >= state["deadline"]:
                    break
                continue  # the same key again
            key = None
        connection.close()

    threads = [
        threading.Thread(target=worker, args=(p, params["seed"] * 1000 + i * 10 + k), daemon=True)
        for i, p in enumerate(people)
        for k in range(params["inflight"])
    ]
    for thread in threads:
        thread.start()
    while True:
        command, *_args = pipe.recv()
        if command == "connect":
            pipe.send({"connected": len(people), "failures": {}})
        elif command == "gifts":
            state["deadline"] = time.monotonic() + params["seconds"]
            go.set()
            for thread in threads:
                thread.join(params["seconds"] + DRAIN_S + 60)
            total = Tally()
            for tally in tallies:
                total.merge(tally)
            pipe.send({**total.result(), "events": 0, "alive": len(people)})
        elif command == "quit":
            pipe.send({})
            return


# -- a level -----------------------------------------------------------------------------------
def ask(pipe, command: tuple, timeout: float) -> dict:
    pipe.send(command)
    if not pipe.poll(timeout):
        raise RuntimeError(f"the client process did not answer {command[0]} in {timeout:.0f} s")
    return pipe.recv()


def run_level(target: str, count: int, level: dict, setup_data: dict, books: dict, args, server) -> dict:
    process, env, port = server
    people = setup_data["senders"][:count]
    live = setup_data["lives"][level["index"]]
    params = {
        "seconds": args.seconds,
        "inflight": args.inflight,
        "retry_pct": args.retry_pct,
        "receiver_id": live["host_id"],
        "gift_id": setup_data["gift_id"],
        "seed": level["index"] + 1,
        "tag": f"{target[0]}{count}",
        "quickack": args.quickack,
    }
    context = multiprocessing.get_context("fork")
    mine, theirs = context.Pipe()
    main = socket_main if target == "socket" else http_main
    child = context.Process(target=main, args=(theirs, port, live["live_id"], people, params), daemon=True)
    child.start()
    sampler = chat.Sampler(process.pid, [child.pid])
    try:
        joined = ask(mine, ("connect", count, WAVE), chat.CONNECT_TIMEOUT_S * 2)
        if joined["connected"] < count:
            raise RuntimeError(f"only {joined['connected']} of {count} senders connected: {joined}")
        sampler.start()
        time.sleep(1.0)
        got = ask(mine, ("gifts",), args.seconds + DRAIN_S + 120)
        load1 = os.getloadavg()[0]
        sampler.stopped.set()
        ask(mine, ("quit",), 30)
    finally:
        sampler.stopped.set()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    tally = Tally.from_result({k: v for k, v in got.items() if k not in ("events", "alive")})
    span = max(1e-9, tally.last_ack - tally.first_send)
    usage = sampler.window(tally.first_send, tally.last_ack)
    # The books: everything acknowledged so far, every sender.
    for uid, keys in tally.acked.items():
        books.setdefault(uid, {"acked": set(), "unanswered": set()})["acked"].update(keys)
    for uid, keys in tally.unanswered.items():
        books.setdefault(uid, {"acked": set(), "unanswered": set()})["unanswered"].update(keys)
    check = ledger_check(env)
    spec = {
        "granted": GRANT,
        "gift_coins": setup_data["gift_coins"],
        "live_id": live["live_id"],
        "live_acked": sum(len(keys) for keys in tally.acked.values()),
        "live_unanswered": sum(len(keys) for keys in tally.unanswered.values()),
        "senders": {
            str(p["id"]): {
                "acked": sorted(books.get(p["id"], {}).get("acked", ())),
                "unanswered": sorted(books.get(p["id"], {}).get("unanswered", ())),
            }
            for p in setup_data["senders"]
        },
    }
    spec_path = Path(args.tmp) / f"verify-{level['index']}.json"
    spec_path.write_text(json.dumps(spec))
    verified = in_app(env, "--verify", str(spec_path))
    lat = sorted(tally.lat_new)
    lat_retry = sorted(tally.lat_retry)
    per = sorted(len(tally.acked.get(p["id"], {})) for p in people)
    pct = chat.percentile
    return {
        "target": target,
        "senders": count,
        "inflight": args.inflight,
        "lift_limit": args.lift_limit,
        "quickack": args.quickack,
        "seconds": span,
        "gifts_per_s": tally.ok_new / span,
        "sent_new": tally.sent_new,
        "sent_retry": tally.sent_retry,
        "ok_new": tally.ok_new,
        "ok_retry": tally.ok_retry,
        "retry_bad": tally.retry_bad,
        "new_replayed": tally.new_replayed,
        "refused": tally.refused,
        "unanswered": spec["live_unanswered"],
        "ack_p50_ms": pct(lat, 50),
        "ack_p95_ms": pct(lat, 95),
        "ack_p99_ms": pct(lat, 99),
        "ack_max_ms": lat[-1] if lat else float("nan"),
        "retry_ack_p50_ms": pct(lat_retry, 50),
        "server_cpu": usage["server_cpu"],
        "server_ms_per_gift": 10
        * usage["server_cpu"]
        * usage["span"]
        / max(1, tally.ok_new + tally.ok_retry),
        "rss_mb": usage["rss_mb"],
        "client_cpu": usage["client_cpu"],
        "other_cpu": usage["other_cpu"],
        "load1": load1,
        "room_events": got["events"],
        # Fairness: new gifts acked ok per sender, fewest / median / most.
        "per_sender": [per[0], per[len(per) // 2], per[-1]],
        "disconnected": count - got["alive"],
        "ledger_check": check,
        "live_rows": verified["live_rows"],
        "unanswered_in_db": verified["unanswered_in_db"],
        "problems": verified["problems"],
    }


def failed(row: dict) -> list[str]:
    why = list(row["problems"])
    if row["ledger_check"]["status"] != 0:
        why.append(f"ledger-check exited {row['ledger_check']['status']}")
    if row["retry_bad"]:
        why.append(f"{row['retry_bad']} retries came back with another gift_send or not replayed")
    if row["new_replayed"]:
        why.append(f"{row['new_replayed']} new keys came back as replayed")
    if not row["ok_new"]:
        why.append("no gift was acknowledged ok")
    return why


# -- output -----------------------------------------------------------------------------------
def fmt(value: float, digits: int = 0) -> str:
    return chat.fmt(value, digits)


def refused_text(refused: dict) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(refused.items())) or "none"


def one_line(r: dict) -> str:
    return (
        f"{r['target']} C={r['senders']}×{r['inflight']}: {r['gifts_per_s']:.1f} gifts/s "
        f"({r['ok_new']} new ok of {r['sent_new']} in {r['seconds']:.1f} s; retries ok {r['ok_retry']}/{r['sent_retry']}), "
        f"refused {refused_text(r['refused'])}, unanswered {r['unanswered']}, "
        f"ack p50 {fmt(r['ack_p50_ms'])} / p95 {fmt(r['ack_p95_ms'])} / p99 {fmt(r['ack_p99_ms'])} / "
        f"max {fmt(r['ack_max_ms'])} ms, server {fmt(r['server_cpu'])} % CPU ({fmt(r['server_ms_per_gift'], 1)} ms "
        f"per answer) {fmt(r['rss_mb'])} MB, client {fmt(r['client_cpu'])} %, other {fmt(r['other_cpu'])} %, "
        f"load {r['load1']:.1f}, room events {r['room_events']}, per sender {'/'.join(map(str, r['per_sender']))}\n"
        f"    ledger-check: exit {r['ledger_check']['status']}: {r['ledger_check']['summary']}"
        + "".join(f"\n      {m}" for m in r["ledger_check"]["mismatches"])
        + f"\n    GiftSend rows in the live {r['live_rows']} = distinct keys acked ok {r['ok_new']}"
        f"{' (+ ' + str(r['unanswered_in_db']) + ' unanswered that went through)' if r['unanswered_in_db'] else ''}; "
        f"balances: {'ok' if not r['problems'] else 'WRONG'}" + "".join(f"\n      {p}" for p in r["problems"])
    )


def print_table(rows: list[dict]) -> None:
    print(
        "\n| target | senders × in flight | gifts/s (new, ok) | new ok / sent | retries ok / sent "
        "| refused | ack p50 / p95 / p99 / max (new) | retry ack p50 | per sender min / med / max | server CPU (ms per answer) "
        "| server RSS | client CPU | other | ledger-check | rows = keys acked, balances |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        books = "yes" if not r["problems"] else "NO"
        print(
            f"| {r['target']} | {r['senders']} × {r['inflight']} | {r['gifts_per_s']:.1f} | {r['ok_new']} / {r['sent_new']} "
            f"| {r['ok_retry']} / {r['sent_retry']} | {refused_text(r['refused'])} "
            f"| {fmt(r['ack_p50_ms'])} / {fmt(r['ack_p95_ms'])} / {fmt(r['ack_p99_ms'])} / {fmt(r['ack_max_ms'])} ms "
            f"| {fmt(r['retry_ack_p50_ms'])} ms | {' / '.join(map(str, r['per_sender']))} "
            f"| {fmt(r['server_cpu'])} % ({fmt(r['server_ms_per_gift'], 1)}) "
            f"| {fmt(r['rss_mb'])} MB | {fmt(r['client_cpu'])} % | {fmt(r['other_cpu'])} % "
            f"| exit {r['ledger_check']['status']} | {books} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--senders", default="1,10,50", help="concurrent senders per level, comma-separated")
    parser.add_argument("--seconds", type=float, default=20, help="sending time per level")
    parser.add_argument("--targets", default="socket,http", help="socket, http or both")
    parser.add_argument("--inflight", type=int, default=1, help="sends in flight per sender")
    parser.add_argument("--retry-pct", type=float, default=5, help="%% of sends that repeat an acked key")
    parser.add_argument("--gift", default="Heart", help="the catalogue gift to send (Heart: 5 coins)")
    parser.add_argument(
        "--lift-limit",
        action="store_true",
        help="lift gift_send's 10/s per person in the server (bench only)",
    )
    parser.add_argument(
        "--quickack",
        action="store_true",
        help="socket senders ACK every TCP segment at once (shows the cost of the server's Nagle wait)",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--setup", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--verify", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup(int(args.setup[0]), int(args.setup[1]), args.setup[2])
        return 0
    if args.verify:
        verify(args.verify)
        return 0
    levels = [int(v) for v in args.senders.split(",") if v]
    targets = [t for t in args.targets.split(",") if t]
    for target in targets:
        if target not in ("socket", "http"):
            parser.error(f"unknown target {target}")
    if args.inflight < 1 or not levels or min(levels) < 1:
        parser.error("--senders and --inflight must be at least 1")
    chat.raise_fd_limit()
    print(f"Machine: {chat.machine()}")
    print(
        f"Gift {args.gift!r}; {GRANT} coins granted to each sender; {args.inflight} in flight per sender; "
        f"{args.retry_pct:g} % retries; gift_send limit: "
        f"{'lifted (--lift-limit)' if args.lift_limit else 'as shipped, 10 a second per person'}"
        f"{'; socket clients ACK at once (--quickack)' if args.quickack else ''}",
        flush=True,
    )
    rows: list[dict] = []
    books: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gifts-") as tmp:
        args.tmp = tmp
        process, env, port, log_path = start_server(Path(tmp), args.lift_limit)
        try:
            plan = [(t, c) for t in targets for c in levels]
            setup_data = in_app(env, "--setup", str(max(levels)), str(len(plan)), args.gift)
            print(f"Server on port {port}, {len(plan)} lives, {max(levels)} senders ready", flush=True)
            for index, (target, count) in enumerate(plan):
                print(f"\n{target}, {count} sender{'s' if count != 1 else ''}:", flush=True)
                try:
                    row = run_level(
                        target, count, {"index": index}, setup_data, books, args, (process, env, port)
                    )
                except RuntimeError as exc:
                    print(f"  failed: {exc}\n  server log (end):\n{log_path.read_text()[-3000:]}", flush=True)
                    rows.append({"target": target, "senders": count, "error": str(exc)})
                    continue
                print("  " + one_line(row), flush=True)
                rows.append(row)
        finally:
            chat.stop_process(process)
    measured = [r for r in rows if "error" not in r]
    print_table(measured)
    bad = [(r, failed(r)) for r in measured]
    bad = [(r, why) for r, why in bad if why]
    errors = [r for r in rows if "error" in r]
    for r, why in bad:
        print(f"\nFAILED {r['target']} C={r['senders']}: " + "; ".join(why))
    if args.json:
        args.json.write_text(json.dumps({"machine": chat.machine(), "rows": rows}, indent=2, default=str))
    return 1 if bad or errors or not measured else 0


if __name__ == "__main__":
    sys.exit(main())

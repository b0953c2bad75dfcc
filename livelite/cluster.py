"""Several LiveLite processes serving one site, through Redis (``LIVELITE_REDIS_URL``).

One process is not enough for a big audience: a chat message to 2000 sockets costs one
core ~190 ms in python-socketio (BENCHMARKS.md). With a Redis URL, several processes
share the work (docs/deploy.md):

* Socket.IO emits reach every process through Redis (Flask-SocketIO's message queue;
  ``realtime.emit_to_*`` need no change), and so do room joins and disconnections of a
  connection held by another process (python-socketio's pub/sub manager).
* **Presence** (who watches which live) is kept in Redis by ``RedisPresence``, so viewer
  counts and attendance are the site's, not one process's.
* **Rate limits** (``RedisRateLimiter`` for room events, Flask-Limiter for pages) are
  counted in Redis, so a client cannot multiply its allowance by reconnecting to
  another process.
* **Ingest is owned by one process** (``LIVELITE_INGEST=true`` on exactly one): the RTMP
  listener, the browser publisher's ``/publish`` namespace, every ffmpeg, the jobs, the
  conversion and replay queues and the webhook sender. Ingest state (running ffmpeg,
  publisher sequence numbers) lives in memory there. The other processes send it what
  only it can do (end a live, stop a feed, queue a conversion, wake the webhook sender,
  read a feed's health) through ``Cluster.to_ingest``, a small request/reply over Redis
  pub/sub; when no ingest process is listening, they do what can be done without it
  (``IngestUnavailable``).

Without a Redis URL every ``Cluster`` call runs in this process and presence stays in
memory (``realtime.Presence``): ``python app.py`` is unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

import redis
from flask import Flask

log = logging.getLogger("livelite.cluster")

# Presence: a set of connection ids per (live, identity), a hash of the identities
# present per live (its length is the viewer count), and per process the list of what
# it added, so that what a crashed process held can be taken back (``_JANITOR``).
_JOIN = """
local added = redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[3])
local first = 0
if added == 1 and redis.call('SCARD', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[2], 1)
  first = 1
end
return {redis.call('HLEN', KEYS[2]), first}
"""

_LEAVE = """
redis.call('SREM', KEYS[3], ARGV[3])
local removed = redis.call('SREM', KEYS[1], ARGV[1])
local last = 0
if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  last = 1
end
return {redis.call('HLEN', KEYS[2]), last}
"""

# Takes back every connection a process registered, once (the SREM from the process
# list decides who does it). Returns the (live, identity) pairs nobody holds any more.
_JANITOR = """
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return {} end
local prefix = ARGV[2]
local members = prefix .. 'proc:' .. ARGV[1] .. ':members'
local gone = {}
for _, m in ipairs(redis.call('SMEMBERS', members)) do
  local e = cjson.decode(m)
  local sids = prefix .. 'presence:' .. e[1] .. ':' .. e[2]
  if redis.call('SREM', sids, e[3]) == 1 and redis.call('SCARD', sids) == 0 then
    redis.call('HDEL', prefix .. 'presence:' .. e[1], e[2])
    table.insert(gone, cjson.encode({e[1], e[2]}))
  end
end
redis.call('DEL', members)
return gone
"""

# A token bucket per key: [tokens, stamp in ms]. Redis's clock, so every process
# agrees. Returns 0 when allowed, else the milliseconds until it would be.
_BUCKET = """
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
local rate = capacity / per_ms
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(per_ms * 2) + 1000)
return tostring(wait)
"""


class IngestUnavailable(RuntimeError):
    """No ingest process answered (none running, or Redis unreachable)."""


def connect(url: str):
    """A Redis client for ``url``. redis-py is pure Python: under eventlet's monkey
    patching its sockets are green, so a wait on Redis lets other green threads run."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )


class Cluster:
    """This process's place among the site's processes (``app.extensions["livelite.cluster"]``)."""

    def __init__(self, app: Flask):
        self.app = app
        config = app.config
        self.url = config.get("REDIS_URL") or None
        self.prefix = config["REDIS_PREFIX"]
        self.ingest = bool(config["INGEST"])
        self.proc_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.redis = connect(self.url) if self.url else None
        self.handlers: dict[str, Callable] = {}
        self.heartbeat_s = float(config["CLUSTER_HEARTBEAT_SECONDS"])
        self._stopping = threading.Event()
        self._pubsub = None
        # Called with (live_id, identity) for presences a dead process left behind.
        self.on_presence_gone: list[Callable[[int, str], None]] = []
        if self.redis is not None:
            self._janitor = self.redis.register_script(_JANITOR)

    @property
    def shared(self) -> bool:
        return self.redis is not None

    def key(self, *parts) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    # -- work only the ingest process does -------------------------------------------
    def handler(self, name: str):
        """Register ``func(app, **args)`` as the ingest process's answer to ``name``."""

        def register(func):
            self.handlers[name] = func
            return func

        return register

    def to_ingest(self, name: str, wait: float | None = None, **args):
        """Run ``name`` in the ingest process: here if this is it (or there is no Redis),
        else over Redis. With ``wait``, return its result (None after ``wait`` seconds);
        without, return at once. Raises ``IngestUnavailable`` when nobody listens."""
        if self.ingest or self.redis is None:
            return self.handlers[name](self.app, **args)
        reply = self.key("reply", uuid.uuid4().hex) if wait else None
        message = json.dumps({"op": name, "args": args, "reply": reply, "from": self.proc_id})
        try:
            listeners = self.redis.publish(self.key("ingest"), message)
        except redis.RedisError as exc:
            raise IngestUnavailable(str(exc)) from exc
        if not listeners:
            raise IngestUnavailable("no ingest process is listening")
        if reply is None:
            return None
        try:
            got = self.redis.blpop([reply], timeout=wait)
        except redis.RedisError as exc:
            raise IngestUnavailable(str(exc)) from exc
        if got is None:
            raise IngestUnavailable(f"the ingest process did not answer {name} within {wait} s")
        body = json.loads(got[1])
        if "error" in body:
            raise RuntimeError(body["error"])
        return body.get("result")

    def _serve_request(self, raw: str) -> None:
        try:
            message = json.loads(raw)
            func = self.handlers[message["op"]]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed ingest request: %.200s", raw)
            return
        try:
            body = {"result": func(self.app, **message.get("args", {}))}
        except Exception as exc:
            log.exception("ingest request %s failed", message["op"])
            body = {"error": f"{type(exc).__name__}: {exc}"}
        if message.get("reply"):
            pipe = self.redis.pipeline()
            pipe.rpush(message["reply"], json.dumps(body, default=str))
            pipe.expire(message["reply"], 60)
            pipe.execute()

    # -- running -------------------------------------------------------------------
    def start(self, spawn) -> None:
        """Start the heartbeat (and, in the ingest process, the request listener)."""
        if self.redis is None:
            return
        self.beat()
        spawn(self._beat_forever)
        if self.ingest:
            spawn(self._listen_forever, spawn)

    def stop(self) -> None:
        """A clean exit takes back this process's presences at once."""
        self._stopping.set()
        if self.redis is None:
            return
        try:
            self._take_back(self.proc_id)
            self.redis.delete(self.key("alive", self.proc_id))
        except redis.RedisError as exc:
            log.warning("could not clear this process's presence from Redis (%s)", exc)

    def _beat_forever(self) -> None:
        # threading.Event is green under eventlet's monkey patching.
        while not self._stopping.wait(self.heartbeat_s):
            try:
                self.beat()
            except redis.RedisError as exc:
                log.warning("Redis heartbeat failed (%s); retrying", exc)

    def beat(self) -> None:
        """Say this process is alive, put back what Redis lost (a restarted Redis), and
        take back what dead processes left."""
        pipe = self.redis.pipeline()
        pipe.set(self.key("alive", self.proc_id), "1", px=int(self.heartbeat_s * 4000))
        pipe.sadd(self.key("procs"), self.proc_id)
        _alive, added = pipe.execute()
        presence = self.app.extensions.get("livelite.presence")
        if isinstance(presence, RedisPresence):
            if presence.started and (added or presence.dirty):
                if presence.dirty:
                    # A join or leave failed half-way: clear what Redis has of ours
                    # (without telling anyone they left) and register again.
                    self._take_back(self.proc_id, tell=False)
                    self.redis.sadd(self.key("procs"), self.proc_id)
                presence.resync()
            presence.started = True
        for proc in self.redis.smembers(self.key("procs")):
            if proc != self.proc_id and not self.redis.exists(self.key("alive", proc)):
                self._take_back(proc)

    def _take_back(self, proc: str, tell: bool = True) -> None:
        gone = self._janitor(keys=[self.key("procs")], args=[proc, self.prefix])
        for item in gone if tell else ():
            live_id, identity = json.loads(item)
            for callback in self.on_presence_gone:
                try:
                    callback(int(live_id), identity)
                except Exception:
                    log.exception("cleaning up after process %s failed", proc)

    def _listen_forever(self, spawn) -> None:
        from livelite.extensions import socketio

        while not self._stopping.is_set():
            try:
                self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(self.key("ingest"))
                while not self._stopping.is_set():
                    message = self._pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        # Each request in its own task: ending a live waits for ffmpeg.
                        spawn(self._serve_request, message["data"])
            except redis.RedisError as exc:
                log.warning("lost the Redis subscription (%s); subscribing again", exc)
                socketio.sleep(1.0)


class RedisPresence:
    """``realtime.Presence`` shared by every process through Redis.

    This process's own connections are also kept in a local ``Presence`` (what
    ``resync`` puts back after Redis lost its data); counts, identities and the
    connections of a person are read from Redis, so they are the site's.
    """

    def __init__(self, cluster: Cluster, local):
        self.cluster = cluster
        self.local = local
        self.redis = cluster.redis
        self.started = False
        self.dirty = False  # a join or leave may have reached Redis only in part
        self._join = self.redis.register_script(_JOIN)
        self._leave = self.redis.register_script(_LEAVE)

    def _keys(self, live_id: int, identity: str) -> list[str]:
        c = self.cluster
        return [
            c.key("presence", live_id, identity),
            c.key("presence", live_id),
            c.key("proc", c.proc_id, "members"),
        ]

    @staticmethod
    def _member(live_id: int, identity: str, sid: str) -> str:
        return json.dumps([live_id, identity, sid])

    def join(self, live_id: int, identity: str, sid: str) -> tuple[int, bool]:
        """Add a connection; returns (site-wide count, first connection of this person).
        Raises ``redis.RedisError`` when Redis cannot be reached (the connection is then
        refused, and nothing of it is kept)."""
        self.local.join(live_id, identity, sid)
        try:
            count, first = self._join(
                keys=self._keys(live_id, identity), args=[sid, identity, self._member(live_id, identity, sid)]
            )
        except redis.RedisError:
            self.local.leave(sid)
            self.dirty = True  # the script may have run before the answer was lost
            raise
        return int(count), bool(first)

    def leave(self, sid: str) -> tuple[int, int, str, bool] | None:
        """Forget a connection; (live id, site-wide count, identity, was their last) or None."""
        found = self.local.leave(sid)
        if found is None:
            return None
        live_id, count, identity, last = found
        try:
            count, last = self._leave(
                keys=self._keys(live_id, identity), args=[sid, identity, self._member(live_id, identity, sid)]
            )
        except redis.RedisError as exc:
            # The next heartbeat that reaches Redis puts this process's part right.
            log.warning("live %s: a leave was not recorded in Redis (%s)", live_id, exc)
            self.dirty = True
            return live_id, count, identity, last
        return live_id, int(count), identity, bool(last)

    def resync(self) -> int:
        """Register this process's connections again (Redis was restarted or flushed)."""
        self.dirty = False
        entries = self.local.entries()
        for live_id, identity, sid in entries:
            self._join(
                keys=self._keys(live_id, identity), args=[sid, identity, self._member(live_id, identity, sid)]
            )
        if entries:
            log.warning("Redis had lost this process's %d connection(s): registered again", len(entries))
        return len(entries)

    # Reads fall back to this process's own figures while Redis cannot be reached, so
    # pages showing a viewer count keep working through a Redis restart.
    def sids_of(self, live_id: int, identity: str) -> list[str]:
        try:
            return list(self.redis.smembers(self.cluster.key("presence", live_id, identity)))
        except redis.RedisError:
            return self.local.sids_of(live_id, identity)

    def identities(self, live_id: int) -> list[str]:
        try:
            return list(self.redis.hkeys(self.cluster.key("presence", live_id)))
        except redis.RedisError:
            return self.local.identities(live_id)

    def count(self, live_id: int) -> int:
        try:
            return int(self.redis.hlen(self.cluster.key("presence", live_id)))
        except redis.RedisError:
            return self.local.count(live_id)


class RedisRateLimiter:
    """``room.RateLimiter``'s token buckets, kept in Redis so every process shares them."""

    def __init__(self, cluster: Cluster, fallback):
        self.cluster = cluster
        # This process's own buckets while Redis cannot be reached: limits still hold,
        # per process, rather than every event failing.
        self.fallback = fallback
        self._bucket = cluster.redis.register_script(_BUCKET)

    def hit(self, key: str, capacity: float, per_seconds: float, cost: float = 1.0) -> float:
        try:
            wait_ms = float(
                self._bucket(keys=[self.cluster.key("rate", key)], args=[capacity, per_seconds * 1000, cost])
            )
        except redis.RedisError:
            return self.fallback.hit(key, capacity, per_seconds, cost)
        return wait_ms / 1000.0

    def reset(self, key: str) -> None:
        self.fallback.reset(key)
        try:
            self.cluster.redis.delete(self.cluster.key("rate", key))
        except redis.RedisError:
            log.warning("rate limit %s not reset in Redis", key)


def init_app(app: Flask) -> Cluster:
    cluster = app.extensions["livelite.cluster"] = Cluster(app)
    return cluster


def of(app: Flask) -> Cluster:
    return app.extensions["livelite.cluster"]

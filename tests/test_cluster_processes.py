"""Two real server processes (``python app.py``) on one database and one real Redis: the
ingest process (``LIVELITE_INGEST=true``) and a web process. Socket.IO clients connect
to one or the other, as nginx would spread them (docs/deploy.md)."""

from __future__ import annotations

import os
import queue
import signal
import time
import uuid

import pytest
import requests
import socketio
from e2e.livelite_e2e import run_seed, start_server, stop_server
from redis_support import RedisServer, redis_server  # noqa: F401  (fixture)

SEED = r"""
import json
from app import app
from livelite.models import Role
from livelite.services import lives, tokens
import sys
sys.path[:0] = ["tests"]
from factories import make_admin, make_user

with app.app_context():
    make_admin()
    host = make_user("host", role=Role.CREATOR)
    ann, bob = make_user("ann"), make_user("bob")
    live = lives.start_live(host, title="Across processes")
    secret = {u.username: tokens.create_token(u, "t", ["read", "write"])[1] for u in (host, ann, bob)}
    print(json.dumps({"live_id": live.id, "tokens": secret, "ann_id": ann.id}))
"""


class Viewer:
    """A Socket.IO client of /live that keeps every event it receives."""

    def __init__(self, server_url: str, live_id: int, token: str):
        self.events: queue.Queue = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for name in ("room_state", "chat", "viewers", "kicked", "live_ended"):
            self.client.on(name, self._keeper(name), namespace="/live")
        self.client.on("disconnect", lambda *args: self.events.put(("disconnect", None)), namespace="/live")
        self.client.connect(
            server_url,
            namespaces=["/live"],
            transports=["polling"],
            auth={"live_id": live_id, "token": token},
            wait_timeout=15,
        )

    def _keeper(self, name):
        return lambda data=None: self.events.put((name, data))

    def next(self, name: str, where=lambda data: True, timeout: float = 15.0):
        """The next ``name`` event matching ``where`` (others are skipped)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {name} event in {timeout} s")
            try:
                got, data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if got == name and where(data):
                return data

    def send(self, event: str, payload: dict):
        return self.client.call(event, payload, namespace="/live", timeout=15)

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def start_site(instance, redis_url: str, **extra_env):
    """The ingest process, then a web process, on one instance folder and one Redis."""
    env = {
        "LIVELITE_REDIS_URL": redis_url,
        "LIVELITE_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}:",
        # No publisher in these tests: the live must not end for lack of one meanwhile.
        "LIVELITE_PUBLISHER_GRACE_SECONDS": "600",
        **extra_env,
    }
    ingest = start_server(instance, env, log_name="ingest.log")
    try:
        web = start_server(instance, web_env(env), log_name="web.log")
    except BaseException:
        stop_server(ingest)
        raise
    return ingest, web


def web_env(env: dict) -> dict:
    return {**env, "LIVELITE_INGEST": "false", "LIVELITE_RTMP_ENABLED": "false"}


def viewer_count(server, live_id: int) -> int:
    return requests.get(f"{server.url}/api/v1/lives/{live_id}", timeout=10).json()["viewer_count"]


def eventually(check, timeout: float = 20.0, step: float = 0.25):
    """Poll ``check`` until it returns a true value; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(step)


@pytest.fixture
def site(tmp_path, redis_server):  # noqa: F811
    ingest, web = start_site(tmp_path / "site" / "instance", redis_server.url)
    try:
        yield ingest, web, run_seed(web, SEED)
    finally:
        for server in (web, ingest):
            stop_server(server)


def test_a_live_shared_by_two_processes_through_redis(site):
    ingest, web, seeded = site
    live_id, secret = seeded["live_id"], seeded["tokens"]
    ann = Viewer(web.url, live_id, secret["ann"])  # on the web process
    bob = Viewer(ingest.url, live_id, secret["bob"])  # on the ingest process
    host = Viewer(ingest.url, live_id, secret["host"])
    try:
        # Viewer counts are the site's: ann (web) and bob (ingest) are two.
        ann.next("room_state")
        assert bob.next("room_state")["viewers"] == 2
        ann.next("viewers", lambda data: data["count"] == 2)

        # A message sent to process B reaches a viewer of process A, and back.
        ack = bob.send("chat_send", {"body": "hello from the ingest process"})
        assert ack["ok"] is True
        assert (
            ann.next("chat", lambda m: m["body"] == "hello from the ingest process")["user"]["username"]
            == "bob"
        )
        assert ann.send("chat_send", {"body": "and back from the web process"})["ok"] is True
        bob.next("chat", lambda m: m["body"] == "and back from the web process")

        # Rate limits are counted in Redis: bob's 5 messages per 10 s are shared by his
        # connections to both processes (one already sent).
        bob_on_web = Viewer(web.url, live_id, secret["bob"])
        answers = [bob_on_web.send("chat_send", {"body": f"web {i}"}) for i in range(2)]
        answers += [bob.send("chat_send", {"body": f"ingest {i}"}) for i in range(2)]
        assert [a["ok"] for a in answers] == [True] * 4
        refused = bob_on_web.send("chat_send", {"body": "one too many"})
        assert refused["ok"] is False and refused["code"] == "rate_limited"
        bob_on_web.close()

        # The /publish namespace (the browser publisher) is the ingest process's only.
        publisher = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            publisher.connect(web.url, namespaces=["/publish"], transports=["polling"], wait_timeout=10)

        # The host, on the ingest process, kicks ann, whose connection is on the web
        # process: she is told and disconnected there.
        assert host.send("user_kick", {"user_id": seeded["ann_id"]})["ok"] is True
        ann.next("kicked")
        ann.next("disconnect")
        bob.next("viewers", lambda data: data["count"] == 1)

        # Ending the live through the web process's API: the ingest process finishes
        # the recording; everyone is told, whichever process holds their connection.
        body = requests.post(
            f"{web.url}/api/v1/lives/{live_id}/end",
            headers={"Authorization": f"Bearer {secret['host']}"},
            timeout=60,
        ).json()
        assert body["status"] == "ended" and body["end_reason"] == "host"
        assert bob.next("live_ended")["reason"] == "host"
        assert "ending it here" not in web.log()  # not the fallback: the ingest process did it
    finally:
        for viewer in (ann, bob, host):
            viewer.close()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, since the test restarts it."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_the_site_recovers_when_redis_restarts(tmp_path, own_redis):
    ingest, web = start_site(
        tmp_path / "site" / "instance", own_redis.url, LIVELITE_CLUSTER_HEARTBEAT_SECONDS="0.5"
    )
    viewers = []
    try:
        seeded = run_seed(web, SEED)
        live_id, secret = seeded["live_id"], seeded["tokens"]
        ann, bob = Viewer(web.url, live_id, secret["ann"]), Viewer(ingest.url, live_id, secret["bob"])
        viewers += [ann, bob]
        eventually(lambda: viewer_count(web, live_id) == 2)

        own_redis.restart()  # every key is gone: presence, rate limits, subscriptions

        # The next heartbeats put each process's viewers back.
        eventually(lambda: viewer_count(web, live_id) == 2 and viewer_count(ingest, live_id) == 2)
        # Socket.IO's queue subscribes again: a message crosses processes once more. While
        # it reconnects a broadcast can be missed; the message itself is stored either way.
        sent = []

        def crossed():
            body = f"after the restart {len(sent)}"
            sent.append(body)
            assert bob.send("chat_send", {"body": body})["ok"] is True
            try:
                ann.next("chat", lambda m: m["body"] == body, timeout=1.0)
                return True
            except AssertionError:
                return False

        eventually(crossed, timeout=30, step=1.5)
        for server in (ingest, web):
            assert "Traceback" not in server.log()
        stored = [
            m["body"]
            for m in requests.get(
                f"{web.url}/api/v1/lives/{live_id}/messages?limit=50",
                headers={"Authorization": f"Bearer {secret['host']}"},
                timeout=10,
            ).json()
        ]
        assert set(sent) <= set(stored)  # nothing sent was lost
    finally:
        for viewer in viewers:
            viewer.close()
        for server in (web, ingest):
            stop_server(server)


def test_a_killed_web_process_is_forgotten_and_a_new_one_takes_over(tmp_path, redis_server):  # noqa: F811
    instance = tmp_path / "site" / "instance"
    ingest, web = start_site(instance, redis_server.url, LIVELITE_CLUSTER_HEARTBEAT_SECONDS="0.5")
    servers, viewers = [ingest, web], []
    try:
        seeded = run_seed(web, SEED)
        live_id, secret = seeded["live_id"], seeded["tokens"]
        ann, bob = Viewer(web.url, live_id, secret["ann"]), Viewer(ingest.url, live_id, secret["bob"])
        viewers += [ann, bob]
        eventually(lambda: viewer_count(ingest, live_id) == 2)

        os.kill(web.process.pid, signal.SIGKILL)  # no clean exit: its presences stay in Redis
        web.process.wait(timeout=10)
        # Its heartbeat expires (4 beats) and the ingest process takes its viewers back.
        eventually(lambda: viewer_count(ingest, live_id) == 1)
        bob.next("viewers", lambda data: data["count"] == 1)

        # A new web process on the same site serves at once; ann comes back through it.
        settings = {k: v for k, v in web.env.items() if k.startswith("LIVELITE_") and "PORT" not in k}
        again = start_server(instance, settings, log_name="web2.log")
        servers.append(again)
        ann_again = Viewer(again.url, live_id, secret["ann"])
        viewers.append(ann_again)
        assert ann_again.next("room_state")["viewers"] == 2
        assert ann_again.send("chat_send", {"body": "back"})["ok"] is True
        bob.next("chat", lambda m: m["body"] == "back")
    finally:
        for viewer in viewers:
            viewer.close()
        for server in servers:
            stop_server(server)

"""The shipped deployment (deploy/, docs/deploy.md) with real components: Debian's nginx
in front of two gunicorns (`gunicorn -c deploy/gunicorn.conf.py livelite.wsgi:app`),
one running ingest and one web process, on one SQLite database and a real Redis.

nginx is Debian's ``nginx`` package (scripts/test.sh installs it). Where it is missing
these tests are skipped on a developer's machine and fail under CI, as the Redis ones do.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import socketio
from e2e.livelite_e2e import REPO_ROOT, LiveServer, free_port, stop_server
from redis_support import redis_server  # noqa: F401  (fixture)

SITE_TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "livelite.conf"
GUNICORN_CONF = REPO_ROOT / "deploy" / "gunicorn.conf.py"
STARTUP_TIMEOUT = 40.0
INIT_BYTES = b"\x00\x00\x00\x18ftypiso6" + bytes(range(200))
SEGMENT_BYTES = bytes(range(256)) * 64 + b"the end of segment 0"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(path, os.X_OK)), None
    )
    if found is None:
        message = "nginx is not installed (scripts/test.sh installs Debian's nginx)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def render_site(values: dict[str, str]) -> str:
    """deploy/nginx/livelite.conf with its @PLACEHOLDERS@ filled; every one must be."""
    text = SITE_TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = set(re.findall(r"@([A-Z_]+)@", text))
    assert not left, f"placeholders not filled: {sorted(left)}"
    return text


def documented_values() -> dict[str, str]:
    """The example values of the sed command at the top of the file, as an operator
    would copy them."""
    values = dict(re.findall(r"-e 's\|@([A-Z_]+)@\|([^|]*)\|'", SITE_TEMPLATE.read_text()))
    assert set(values) == {
        "LISTEN",
        "SERVER_NAME",
        "WEB_SERVERS",
        "INGEST_SERVER",
        "MEDIA_ROOT",
        "STATIC_ROOT",
    }
    return values


def write_nginx_prefix(prefix: Path, site: str) -> Path:
    """A main nginx.conf around the site file, keeping everything (pid, logs, temp
    folders) under ``prefix``, as Debian's /etc/nginx/nginx.conf does around sites."""
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    (prefix / "livelite.conf").write_text(site)
    temp = "\n".join(
        f"  {kind}_temp_path {prefix / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").is_file() else ""
    # As root, the workers would otherwise run as nobody, who cannot enter pytest's
    # private temporary folders where the media root is.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{user}
worker_processes 1;
pid {prefix / "nginx.pid"};
events {{ worker_connections 256; }}
http {{
  {mime}
  default_type application/octet-stream;
  access_log {prefix / "access.log"};
{temp}
  include {prefix / "livelite.conf"};
}}
"""
    )
    return conf


def test_nginx_accepts_the_shipped_configuration_with_the_documented_values(tmp_path):
    nginx = nginx_binary()
    conf = write_nginx_prefix(tmp_path / "nginx", render_site(documented_values()))
    result = subprocess.run(
        [
            nginx,
            "-t",
            "-p",
            str(tmp_path / "nginx"),
            "-c",
            str(conf),
            "-e",
            str(tmp_path / "nginx" / "error.log"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr, result.stderr


def test_systemd_accepts_the_units_without_a_warning(tmp_path):
    """systemd-analyze verify of the units, their install paths pointed at this checkout
    and its Python (it checks that ExecStart's program exists), every key known."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd)")
    for unit in (REPO_ROOT / "deploy" / "systemd").iterdir():
        text = unit.read_text().replace("/opt/livelite/.venv/bin/", f"{Path(sys.executable).parent}/")
        (tmp_path / unit.name).write_text(text.replace("/opt/livelite", str(REPO_ROOT)))
    names = ["livelite-ingest.service", "livelite-web@8001.service", "livelite.target"]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(f"./{name}" for name in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


# -- nginx, an ingest and a web gunicorn, Redis -------------------------------------
def seed(instance: Path) -> dict:
    """A live with one recorded segment, in the site's database, from this process (the
    database is one SQLite file). Waits for the ingest process's migrations first."""
    from factories import PASSWORD, make_admin, make_user

    from livelite import create_app
    from livelite.extensions import db
    from livelite.models import FeedSource, Role
    from livelite.server import wait_for_schema
    from livelite.services import lives, tokens

    app = create_app({"INSTANCE_PATH": instance, "TESTING": True, "SOCKETIO_ASYNC_MODE": "threading"})
    wait_for_schema(app, timeout=STARTUP_TIMEOUT)
    with app.app_context():
        make_admin()
        host, ann, bob = make_user("host", role=Role.CREATOR), make_user("ann"), make_user("bob")
        live = lives.start_live(host, title="Behind nginx tonight")
        feed = lives.open_feed(live, host, source=FeedSource.BROWSER, input_format="webm", video_codec="h264")
        # What ffmpeg would have written: one run of one segment.
        folder = Path(app.config["MEDIA_ROOT"]) / feed.media_dir
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run-0001-init.mp4").write_bytes(INIT_BYTES)
        (folder / "run-0001-00000.m4s").write_bytes(SEGMENT_BYTES)
        (folder / "run-0001.m3u8").write_text(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n"
            '#EXT-X-MAP:URI="run-0001-init.mp4"\n#EXTINF:1.000,\nrun-0001-00000.m4s\n'
        )
        secret = {u.username: tokens.create_token(u, "t", ["read", "write"])[1] for u in (host, ann, bob)}
        seeded = {"live_id": live.id, "feed_id": feed.id, "tokens": secret, "password": PASSWORD}
        db.session.remove()
        db.engine.dispose()
    return seeded


def process_env(instance: Path, extra_env: dict[str, str]) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LIVELITE_") and name not in ("DATABASE_URL", "GUNICORN_CMD_ARGS")
    }
    return {
        **inherited,
        "LIVELITE_INSTANCE_PATH": str(instance),
        "LIVELITE_RATELIMIT_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }


def start_gunicorn(instance: Path, extra_env: dict[str, str], log_name: str) -> LiveServer:
    """``gunicorn -c deploy/gunicorn.conf.py livelite.wsgi:app`` on a free port, as the
    systemd units run it (``wait_healthy`` waits for it)."""
    port = free_port()
    env = process_env(
        instance,
        {
            "LIVELITE_HOST": "127.0.0.1",
            "LIVELITE_PORT": str(port),
            "LIVELITE_RTMP_HOST": "127.0.0.1",
            "LIVELITE_RTMP_PORT": str(free_port()),
            **extra_env,
        },
    )
    log_path = instance.parent / log_name
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "livelite.wsgi:app"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return LiveServer(f"http://127.0.0.1:{port}", instance, log_path, env, process)


def wait_healthy(server: LiveServer) -> None:
    wait_until(
        lambda: _answers(f"{server.url}/healthz"),
        STARTUP_TIMEOUT,
        lambda: f"gunicorn did not answer /healthz:\n{server.log()}",
        server.process,
    )


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait_until(predicate, timeout: float, message, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: {message()}")
        if time.monotonic() > deadline:
            raise AssertionError(message())
        time.sleep(0.1)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def cluster(tmp_path, redis_server):  # noqa: F811
    nginx = nginx_binary()
    instance = tmp_path / "site" / "instance"
    instance.mkdir(parents=True)
    shared = {
        "LIVELITE_REDIS_URL": redis_server.url,
        "LIVELITE_REDIS_PREFIX": f"t{uuid.uuid4().hex[:8]}:",
        "LIVELITE_PROXY_FIX": "true",
        "LIVELITE_PUBLISH_SOCKET_PATH": "/ingest/socket.io",
        "LIVELITE_X_ACCEL_REDIRECT_PREFIX": "/protected-media/",
        # No publisher here: the live must not end for lack of one meanwhile.
        "LIVELITE_PUBLISHER_GRACE_SECONDS": "600",
        # Processes that start together on a new instance folder would race to create
        # its secret_key file (config.load_secret_key); a deployment gives them one.
        "LIVELITE_SECRET_KEY": uuid.uuid4().hex,
    }
    servers: list[LiveServer] = []
    proxy = None
    try:
        # Both at once, as systemd starts them: the ingest process runs the migrations,
        # the web process (and the seed below) wait for the schema.
        servers.append(start_gunicorn(instance, {**shared, "LIVELITE_INGEST": "true"}, "ingest.log"))
        servers.append(start_gunicorn(instance, {**shared, "LIVELITE_INGEST": "false"}, "web.log"))
        ingest, web = servers
        seeded = seed(instance)
        for server in servers:
            wait_healthy(server)
        port = free_port()
        prefix = tmp_path / "nginx"
        site = render_site(
            {
                "LISTEN": f"127.0.0.1:{port}",
                "SERVER_NAME": "localhost",
                "WEB_SERVERS": f"server {web.url.removeprefix('http://')};",
                "INGEST_SERVER": ingest.url.removeprefix("http://"),
                "MEDIA_ROOT": str(instance / "media"),
                "STATIC_ROOT": str(REPO_ROOT / "static"),
            }
        )
        conf = write_nginx_prefix(prefix, site)
        proxy = subprocess.Popen(
            [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        error_log = prefix / "error.log"
        wait_until(lambda: _listening(port), 10, lambda: error_log.read_text(errors="replace"), proxy)
        yield {
            "url": f"http://127.0.0.1:{port}",
            "ingest": ingest,
            "web": web,
            "access_log": prefix / "access.log",
            **seeded,
        }
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=10)
        for server in reversed(servers):
            stop_server(server)


class Viewer:
    """A Socket.IO client of /live through nginx, keeping the events it receives."""

    def __init__(self, url: str, live_id: int, token: str, transport: str):
        self.events: list[tuple[str, object]] = []
        self.client = socketio.Client(reconnection=False)
        for name in ("room_state", "chat", "viewers"):
            self.client.on(name, self._keeper(name), namespace="/live")
        self.client.connect(
            url,
            namespaces=["/live"],
            transports=[transport],
            auth={"live_id": live_id, "token": token},
            wait_timeout=15,
        )

    def _keeper(self, name):
        return lambda data=None: self.events.append((name, data))

    def wait_for(self, name: str, where=lambda data: True, timeout: float = 15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for got, data in list(self.events):
                if got == name and where(data):
                    return data
            time.sleep(0.05)
        raise AssertionError(f"no {name} event in {timeout} s; got {[e[0] for e in self.events]}")


def log_in(url: str, username: str, password: str) -> requests.Session:
    """A browser's session: the login form through nginx."""
    session = requests.Session()
    page = session.get(f"{url}/login", timeout=15)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or re.search(
        r'name="csrf_token" value="([^"]+)"', page.text
    )
    assert token, "no CSRF token on the login page"
    answer = session.post(
        f"{url}/login",
        data={"csrf_token": token.group(1), "login": username, "password": password},
        timeout=15,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def test_nginx_in_front_of_an_ingest_and_a_web_process(cluster):
    url, web, live_id, feed_id = cluster["url"], cluster["web"], cluster["live_id"], cluster["feed_id"]

    # A page through nginx, rendered by the web process from the shared database.
    home = requests.get(f"{url}/lives/{live_id}", timeout=15)
    assert home.status_code == 200
    assert "Behind nginx tonight" in home.text
    # The page tells the studio where the publisher connects (nginx's ingest route).
    studio_session = log_in(url, "host", cluster["password"])
    studio = studio_session.get(f"{url}/studio", timeout=15)
    assert 'data-publish-path="/ingest/socket.io"' in studio.text

    # Proxy headers reach the app through ProxyFix: /metrics answers a client of this
    # machine only when the forwarded address is believed (docs/deploy.md).
    metrics = requests.get(f"{url}/metrics", timeout=15)
    assert metrics.status_code == 200 and "livelite_lives_live" in metrics.text

    # Static files come from nginx itself, byte for byte.
    css = requests.get(f"{url}/static/css/app.css", timeout=15)
    assert css.status_code == 200 and css.headers["Server"] == "nginx"
    assert css.content == (REPO_ROOT / "static" / "css" / "app.css").read_bytes()
    assert css.headers["Cache-Control"] == "no-cache"

    # Socket.IO through nginx, long-polling and WebSocket, both sticky on the web process.
    tokens = cluster["tokens"]
    polling = Viewer(url, live_id, tokens["ann"], "polling")
    websocket = Viewer(url, live_id, tokens["bob"], "websocket")
    try:
        assert polling.wait_for("room_state")["live_id"] == live_id
        assert websocket.client.transport() == "websocket"
        websocket.wait_for("room_state")
        polling.wait_for("viewers", lambda data: data["count"] == 2)
        ack = websocket.client.call("chat_send", {"body": "through nginx"}, namespace="/live", timeout=15)
        assert ack["ok"] is True
        assert polling.wait_for("chat", lambda m: m["body"] == "through nginx")["user"]["username"] == "bob"
    finally:
        polling.client.disconnect()
        websocket.client.disconnect()

    # The browser publisher's /publish namespace: through /ingest/socket.io it reaches
    # the ingest process and is accepted; through /socket.io nginx sends it to the web
    # process, which refuses it.
    publisher = socketio.Client(reconnection=False, http_session=studio_session)
    publisher.connect(url, namespaces=["/publish"], socketio_path="/ingest/socket.io", transports=["polling"])
    try:
        assert publisher.connected and "/publish" in publisher.namespaces
    finally:
        publisher.disconnect()
    refused = socketio.Client(reconnection=False, http_session=studio_session)
    try:
        refused.connect(url, namespaces=["/publish"], transports=["polling"], wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        pass
    else:
        refused.disconnect()
        pytest.fail(f"/publish accepted through /socket.io:\n{cluster['access_log'].read_text()[-3000:]}")

    # HLS: the playlist comes from the app, never to be stored by anyone.
    base = f"{url}/lives/{live_id}/feeds/{feed_id}"
    playlist = requests.get(f"{base}/index.m3u8", timeout=15)
    assert playlist.status_code == 200
    assert playlist.headers["Cache-Control"] == "no-store"
    assert "run-0001-00000.m4s" in playlist.text and 'URI="run-0001-init.mp4"' in playlist.text

    # A segment: the app checks and answers with X-Accel-Redirect and no body...
    direct = requests.get(f"{web.url}/lives/{live_id}/feeds/{feed_id}/run-0001-00000.m4s", timeout=15)
    assert (
        direct.headers["X-Accel-Redirect"]
        == f"/protected-media/lives/{live_id}/feed-{feed_id}/run-0001-00000.m4s"
    )
    assert direct.content == b""
    # ...and nginx sends the bytes from the media root, with the app's headers.
    segment = requests.get(f"{base}/run-0001-00000.m4s", timeout=15)
    assert segment.status_code == 200
    assert segment.content == SEGMENT_BYTES
    assert "X-Accel-Redirect" not in segment.headers
    assert segment.headers["Content-Type"] == "video/iso.segment"
    assert segment.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert segment.headers["X-Content-Type-Options"] == "nosniff"
    part = requests.get(f"{base}/run-0001-00000.m4s", headers={"Range": "bytes=10-19"}, timeout=15)
    assert part.status_code == 206 and part.content == SEGMENT_BYTES[10:20]
    assert requests.get(f"{base}/run-0001-init.mp4", timeout=15).content == INIT_BYTES
    # The internal location is not reachable from outside, and the check still holds:
    # a name ffmpeg never writes is refused by the app before nginx looks at the disk.
    hidden = requests.get(
        f"{url}/protected-media/lives/{live_id}/feed-{feed_id}/run-0001-00000.m4s", timeout=15
    )
    assert hidden.status_code == 404
    assert requests.get(f"{base}/run-0001.m3u8", timeout=15).status_code == 404

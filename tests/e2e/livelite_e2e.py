"""What the end-to-end tests and ``screens.py`` share: a real server process, the
Chromium to drive, viewport presets. No pytest in here, so scripts can use it too.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, expect

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SEEDED_ADMIN = ("sam", "sam-password-1")


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """A running ``python app.py`` and what a test needs to reach it."""

    url: str
    instance_path: Path
    log_path: Path
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen = field(repr=False)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``flask --app app ARGS`` against this server's instance folder."""
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_server(
    instance_path: Path, extra_env: dict[str, str] | None = None, log_name: str = "server.log"
) -> LiveServer:
    """Start ``python app.py`` on a free port and wait until /healthz answers ok.

    Shared with ``screens.py`` so the screenshots see the same server the tests do.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # The machine's own LIVELITE_* settings must not leak into the server under test.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LIVELITE_") and name != "DATABASE_URL"
    }
    env = {
        **inherited,
        "LIVELITE_INSTANCE_PATH": str(instance_path),
        "LIVELITE_HOST": "127.0.0.1",
        "LIVELITE_PORT": str(port),
        # Its own RTMP port too, so two servers (or a developer's) never collide on 1935.
        "LIVELITE_RTMP_HOST": "127.0.0.1",
        "LIVELITE_RTMP_PORT": str(free_port()),
        # Every test logs in more often in a minute than a person would.
        "LIVELITE_RATELIMIT_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_path = instance_path.parent / log_name
    with log_path.open("wb") as log:
        # The child keeps its own copy of the descriptor; ours can close.
        process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    server = LiveServer(f"http://127.0.0.1:{port}", instance_path, log_path, env, process)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()}")
        if _healthy(port):
            return server
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"the server did not answer /healthz in {STARTUP_TIMEOUT}s:\n{server.log()}")
        time.sleep(0.2)


def _healthy(port: int) -> bool:
    """True once /healthz answers {"status": "ok"} (the database is reachable)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        return response.status == 200 and json.loads(response.read()).get("status") == "ok"
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        connection.close()


def stop_server(server: LiveServer) -> None:
    """Ask the server to stop (SIGTERM); kill it if it has not stopped in time."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=SHUTDOWN_TIMEOUT)


def run_seed(server: LiveServer, code: str, *args: str) -> dict | None:
    """Run ``code`` with the server's environment (its instance and database) in a fresh
    Python, as a seeding script; the JSON object it prints last, if any, is returned."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO_ROOT, env=server.env, check=True, timeout=120,
        capture_output=True, text=True,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None


def seed_demo_site(server: LiveServer) -> None:
    """An admin (SEEDED_ADMIN) plus ``flask seed-demo``'s people and follows."""
    username, password = SEEDED_ADMIN
    server.cli(
        "create-user", username, "--email", f"{username}@example.com", "--password", password,
        "--birthdate", "1985-03-14", "--display-name", "Sam Admin", "--admin",
    )  # fmt: skip
    server.cli("seed-demo")


def log_in(page: Page, username: str, password: str) -> None:
    """Log in through the form and wait for the account menu."""
    page.goto("/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("Account menu")).to_be_visible()

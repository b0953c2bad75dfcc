"""End-to-end fixtures: a real ``python app.py`` process and Debian's Chromium.

Nothing here comes from ``tests/conftest.py``: these tests talk to the app only over
HTTP, as a browser does, so they need a server process and a browser, not an app object.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
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

_server_log_key = pytest.StashKey[Path]()
_reports_key = pytest.StashKey[dict]()


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


def start_server(instance_path: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    """Start ``python app.py`` on a free port and wait until /healthz answers ok.

    Shared with ``screens.py`` so the screenshots see the same server the tests do.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "LIVELITE_INSTANCE_PATH": str(instance_path),
        "LIVELITE_HOST": "127.0.0.1",
        "LIVELITE_PORT": str(port),
        # Every test logs in more often in a minute than a person would.
        "LIVELITE_RATELIMIT_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_path = instance_path.parent / "server.log"
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


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[LiveServer]:
    """One real server for the session, with an empty instance folder of its own."""
    base = tmp_path_factory.mktemp("livelite-e2e")
    server = start_server(base / "instance")
    pytestconfig.stash[_server_log_key] = server.log_path
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded one), headless."""
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh profile per test: no cookies or storage carried over."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page that fails the test on script errors and CSP violations, and leaves a
    screenshot in test-artifacts/e2e/ when the test fails."""
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(f"console {message.type}: {message.text}")
        if message.type == "error"
        else None,
    )
    yield page
    report = request.node.stash.get(_reports_key, {}).get("call")
    if report is not None and report.failed and not page.is_closed():
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    if problems:
        pytest.fail("the browser reported problems:\n" + "\n".join(problems))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item, and attach the server log to failures."""
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    if report.failed:
        log_path = item.config.stash.get(_server_log_key, None)
        if log_path is not None and log_path.exists():
            report.sections.append(("LiveLite server log", log_path.read_text(errors="replace")))
    return report

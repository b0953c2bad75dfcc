"""End-to-end fixtures: a real ``python app.py`` process and Debian's Chromium.

Nothing here comes from ``tests/conftest.py``: these tests talk to the app only over
HTTP, as a browser does, so they need a server process and a browser, not an app object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from livelite_e2e import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    REPO_ROOT,
    LiveServer,
    seed_demo_site,
    start_server,
    stop_server,
)
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,
)

ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"

_server_logs_key = pytest.StashKey[dict[str, Path]]()
_reports_key = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[LiveServer]:
    """One real server for the session, with an empty instance folder of its own: the
    first account registered on it becomes the admin."""
    server = start_server(tmp_path_factory.mktemp("livelite-e2e") / "instance")
    pytestconfig.stash.setdefault(_server_logs_key, {})["live_server"] = server.log_path
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def seeded_server(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[LiveServer]:
    """A second server with the demo people and an admin (SEEDED_ADMIN), for tests that
    look at full pages rather than tell a story from an empty site."""
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-seeded") / "instance")
    pytestconfig.stash.setdefault(_server_logs_key, {})["seeded_server"] = server.log_path
    try:
        seed_demo_site(server)
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
def make_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """``make_page(server, **context_options)``: a page in a fresh browser profile.

    The test fails if the page reports a script error or a CSP violation (both show as
    console errors), and a failing test leaves a screenshot in test-artifacts/e2e/.
    """
    opened: list[tuple[BrowserContext, Page]] = []
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error on {message.page.url if message.page else '?'}: {message.text}")

    def factory(server: LiveServer, **options) -> Page:
        context = browser.new_context(base_url=server.url, **{**DESKTOP, **options})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", on_console)
        opened.append((context, page))
        return page

    yield factory
    report = request.node.stash.get(_reports_key, {}).get("call")
    for index, (context, page) in enumerate(opened):
        if report is not None and report.failed and not page.is_closed():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / f"{request.node.name}-{index}.png", full_page=True)
        context.close()
    if problems:
        pytest.fail("the browser reported problems:\n" + "\n".join(problems))


@pytest.fixture
def page(make_page: Callable[..., Page], live_server: LiveServer) -> Page:
    """A desktop-sized page on the session's (initially empty) server."""
    return make_page(live_server)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item, and attach the server log to failures."""
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    if report.failed:
        for name, log_path in item.config.stash.get(_server_logs_key, {}).items():
            if log_path.exists():
                report.sections.append((f"LiveLite log ({name})", log_path.read_text(errors="replace")))
    return report

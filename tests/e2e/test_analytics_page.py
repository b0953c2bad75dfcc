"""The creator's analytics page in Chromium: the figures, the four charts drawn by the
vendored Chart.js under the site's CSP (make_page fails on any console error), and a
chart's "Show as table" alternative."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from livelite_e2e import REPO_ROOT, LiveServer, log_in, run_seed, start_server, stop_server
from playwright.sync_api import expect

ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"

# tests/test_analytics.py's fixtures (known samples, attendance, follows, gifts, chat),
# written into the server's instance by a separate process.
SEED = """
import json, sys
sys.path.insert(0, "tests")
from app import app
from test_analytics import build_live
from factories import PASSWORD
print(json.dumps({"live_id": build_live(app), "password": PASSWORD}))
"""


@pytest.fixture(scope="module")
def analytics_server(tmp_path_factory) -> Iterator[tuple[LiveServer, dict]]:
    server = start_server(tmp_path_factory.mktemp("livelite-e2e-analytics") / "instance")
    try:
        yield server, run_seed(server, SEED)
    finally:
        stop_server(server)


def test_the_host_sees_figures_and_charts_of_a_live(make_page, analytics_server):
    server, seeded = analytics_server
    page = make_page(server)
    log_in(page, "maker", seeded["password"])
    page.goto(f"/lives/{seeded['live_id']}/analytics")
    expect(page.get_by_role("heading", name="Maths <b>class</b>")).to_be_visible()
    expect(page.locator("#tile-peak dd").first).to_have_text("4")
    expect(page.locator("#tile-average dd").first).to_have_text("2.6")
    expect(page.locator("#tile-followers dd").first).to_have_text("2")
    expect(page.locator("#tile-diamonds dd").first).to_have_text("15")
    # Chart.js drew all four (a chart instance per canvas, with the fixture's points).
    page.wait_for_function("() => document.querySelectorAll('canvas[data-chart]').length === 4")
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('canvas[data-chart]')].map(c => Chart.getChart(c).data.datasets[0].data)"
    )
    assert drawn == [[2, 4, 1, 3, 0], [2, 1, 0, 0, 1], [5, 7, 0, 0, 8], [10, 0, 0, 5, 0]]
    viewers = page.get_by_role("figure", name="Viewers over time")
    expect(viewers.get_by_role("img")).to_have_attribute(
        "aria-label",
        "Viewers watching at each sample, every few seconds from the start: peak 4, average 2.6.",
    )
    viewers.get_by_text("Show as table").click()
    expect(viewers.get_by_role("row", name="0:30 4")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "analytics-live.png", full_page=True)

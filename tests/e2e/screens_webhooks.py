"""Screenshots of the admins' webhooks: ``python tests/e2e/screens_webhooks.py [OUTDIR]``.

Starts a real server, registers two webhooks (one off) and gives the first a delivery
log with a delivered, a retrying and a failed row, then saves at 1280x800 and 390x844,
light and dark: the list with the add form after a refused URL, and the delivery log
(with one payload open): ``webhooks-<page>-<desktop|mobile>-<light|dark>.png``. Also
checks that no page scrolls sideways on the phone. Not a test: pytest skips it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, start_server, stop_server
from playwright.sync_api import sync_playwright
from screens import SCHEMES, VIEWPORTS, capture
from test_e2e_room import PASSWORD, create_people

SEED = r"""
from datetime import timedelta
from app import app
from livelite.extensions import db
from livelite.models import User
from livelite.models.base import utcnow
from livelite.models.webhooks import DeliveryStatus, WebhookDelivery
from livelite.services import webhooks

with app.app_context():
    admin = db.session.scalar(db.select(User).where(User.username == "wadmin"))
    hook = webhooks.create_webhook(admin, url="https://hooks.example.com/livelite/incoming?source=prod",
                                   events=["live.started", "live.ended", "gift.received"],
                                   description="Chat bot announcing lives on the team channel")
    webhooks.create_webhook(admin, url="http://10.0.0.5:8080/events", events=["event.created"],
                            description="Old calendar bridge", active=False)
    now = utcnow()
    rows = [
        ("live.started", DeliveryStatus.SUCCEEDED, 1, 200, None, None, now - timedelta(hours=3)),
        ("gift.received", DeliveryStatus.PENDING, 2, 503, "HTTP 503 Service Unavailable", now + timedelta(minutes=9), now - timedelta(minutes=3)),
        ("live.ended", DeliveryStatus.FAILED, 6, None, "No answer within 10 s.", None, now - timedelta(hours=8)),
        ("ping", DeliveryStatus.PENDING, 0, None, None, now + timedelta(seconds=5), now),
    ]
    for event, status, attempts, code, error, next_at, created in rows:
        body = webhooks._body(event, {"id": 42, "title": "Guitar night", "host": {"id": 1, "username": "wadmin"}}, created)
        db.session.add(WebhookDelivery(webhook_id=hook.id, event=event, payload=body, status=status,
                                       attempts=attempts, last_status_code=code, last_error=error,
                                       next_attempt_at=next_at, created_at=created,
                                       delivered_at=created if status == DeliveryStatus.SUCCEEDED else None))
    db.session.commit()
    print(hook.id)
"""


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "instance")
        try:
            create_people(server, {"wadmin": "Wendy Admin"}, {"wadmin"})
            hook_id = subprocess.run(
                [sys.executable, "-c", SEED], cwd=REPO_ROOT, env=server.env, check=True,
                timeout=120, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]  # fmt: skip
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for view, viewport in VIEWPORTS.items():
                    for scheme in SCHEMES:
                        context = browser.new_context(base_url=server.url, color_scheme=scheme, **viewport)
                        page = context.new_page()
                        page.goto("/login")
                        page.get_by_label("Username or email").fill("wadmin")
                        page.get_by_label("Password").fill(PASSWORD)
                        page.get_by_role("button", name="Log in").click()
                        page.get_by_label("Account menu").wait_for()
                        page.goto("/admin/webhooks")
                        page.get_by_label("Payload URL").fill("https://ops:hunter2@hooks.example.com/in")
                        page.get_by_label("Description").fill("Analytics <pipeline>")
                        page.get_by_role("button", name="Add the webhook").click()
                        page.wait_for_load_state("networkidle")
                        capture(page, out / f"webhooks-list-{view}-{scheme}.png")
                        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
                        page.goto(f"/admin/webhooks/{hook_id}")
                        page.locator("details.webhook-payload summary").nth(1).click()
                        capture(page, out / f"webhooks-log-{view}-{scheme}.png")
                        wide = wide or page.evaluate(
                            "document.documentElement.scrollWidth > window.innerWidth"
                        )
                        if wide:
                            print(f"scrolls sideways: {view} {scheme}", flush=True)
                        context.close()
                browser.close()
        finally:
            stop_server(server)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/shots/h4"))

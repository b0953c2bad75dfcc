"""Web Push in Debian's Chromium against a real server: the Notifications tab, the
service worker at /sw.js, and a follow that travels from the server's background task
through a push service to a notification shown by the worker.

Headless Chromium has no push service it can reach here. In Playwright's contexts
(incognito profiles) Chrome refuses ``PushManager.subscribe`` at once; in a persistent
profile the call waits forever for Google's service. Both are checked for the message
the page shows. The rest of the journey is real, with two stand-ins for what Chrome
would do with a working push service:
- the subscription is sent through the same API the page uses, with keys made here, and
  its endpoint is a push service in this process (tests/push_support.py) that decrypts
  what the server sends;
- the decrypted message is handed to the service worker with CDP's
  ``ServiceWorker.deliverPushMessage``, as Chrome hands it a push. Clicking the shown
  notification cannot be driven from CDP, so ``notificationclick`` is not exercised.
- for logging out, ``PushManager.getSubscription`` answers with that subscription, as
  it would in a browser that subscribed.

The push service listens on 127.0.0.1, so the server runs with
LIVELITE_PUSH_ALLOW_PRIVATE_ENDPOINTS=true (a real site refuses such endpoints).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from livelite_e2e import CHROMIUM, CHROMIUM_ARGS, DESKTOP, LiveServer, log_in, start_server, stop_server
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect
from push_support import Browser as PushKeys
from push_support import PushService, check_vapid

pytestmark = pytest.mark.e2e

CREATOR = ("cora", "cora-password-1")
FAN = ("finn", "finn-password-1")
# Chrome's own console error when a page subscribes in an incognito profile; it is the
# situation under test, not a fault of the page.
INCOGNITO_PUSH = "Chrome currently does not support the Push API in incognito mode"
OFF = "Off: this browser does not get push notifications."


@pytest.fixture(scope="module")
def push_server(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("livelite-e2e-push") / "instance",
        extra_env={"LIVELITE_PUSH_ALLOW_PRIVATE_ENDPOINTS": "true"},
    )
    try:
        for (name, password), extra in ((CREATOR, ["--admin"]), (FAN, [])):
            server.cli(
                "create-user", name, "--email", f"{name}@example.com", "--password", password,
                "--birthdate", "1990-04-02", "--display-name", name.title(), *extra,
            )  # fmt: skip
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


def watch_console(context: BrowserContext, problems: list[str], allowed: str | None = None) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda m: problems.append(f"console error: {m.text}")
        if m.type == "error" and not (allowed and allowed in m.text)
        else None,
    )
    return page


def registration_id(page: Page, cdp, scope: str, worker_errors: list[dict]) -> str:
    """The service worker registration's id, which CDP reports after ServiceWorker.enable;
    errors the worker reports from then on go to ``worker_errors``."""
    found: dict[str, str] = {}
    cdp.on("ServiceWorker.workerErrorReported", lambda event: worker_errors.append(event["errorMessage"]))

    def updated(event):
        for registration in event["registrations"]:
            if not registration["isDeleted"]:
                found[registration["scopeURL"]] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while scope not in found:
        assert time.monotonic() < deadline, f"no registration for {scope}: {found}"
        page.wait_for_timeout(100)
    return found[scope]


def shown_notifications(page: Page) -> list[dict]:
    return page.evaluate(
        """() => navigator.serviceWorker.ready
            .then(r => r.getNotifications())
            .then(list => list.map(n => ({title: n.title, body: n.body, tag: n.tag, icon: n.icon, data: n.data})))"""
    )


def test_a_follow_reaches_the_service_worker_as_a_notification(
    browser: Browser, push_server: LiveServer, push_service: PushService
):
    problems: list[str] = []
    context = browser.new_context(base_url=push_server.url, **DESKTOP)
    context.set_default_timeout(10_000)
    context.grant_permissions(["notifications"], origin=push_server.url)
    page = watch_console(context, problems, allowed=INCOGNITO_PUSH)
    try:
        log_in(page, *CREATOR)
        page.goto("/settings/profile")
        tabs = page.get_by_role("navigation", name="Settings")
        tabs.get_by_role("link", name="Notifications", exact=True).click()
        expect(page.get_by_role("heading", name="Push notifications")).to_be_visible()
        switch = page.get_by_role("switch", name="Notifications on this browser")
        status = page.locator("#push-status")
        expect(status).to_have_text(OFF)
        expect(switch).to_be_enabled()
        expect(switch).to_have_attribute("aria-checked", "false")

        # The page registered the worker at /sw.js for the whole site.
        worker = page.evaluate(
            "() => navigator.serviceWorker.ready.then(r => ({scope: r.scope, script: r.active.scriptURL}))"
        )
        assert worker == {"scope": f"{push_server.url}/", "script": f"{push_server.url}/sw.js"}

        # Chrome refuses to subscribe in this (incognito) profile: the page says so and
        # the switch stays off, ready for another try.
        switch.click()
        expect(status).to_contain_text("Private (incognito) windows cannot get push notifications")
        expect(switch).to_have_attribute("aria-checked", "false")
        expect(switch).to_be_enabled()
        expect(page.get_by_text("No browser gets push notifications from your account yet.")).to_be_visible()

        # Subscribe the way the page does (POST toJSON() with the CSRF header), with
        # keys made here and an endpoint at the test's push service.
        keys = PushKeys()
        answer = page.evaluate(
            """(sub) => fetch("/api/v1/push/subscriptions", {method: "POST",
                 headers: {"Content-Type": "application/json",
                           "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content},
                 body: JSON.stringify(sub)}).then(r => r.status)""",
            keys.subscription(push_service.endpoint("cora")),
        )
        assert answer == 201
        page.reload()
        browsers = page.locator(".push-browser")
        expect(browsers).to_have_count(1)
        expect(browsers.first).to_contain_text("Chrome on Linux")
        expect(browsers.first).to_contain_text("nothing delivered yet")
        # That subscription is not this browser's own: the switch truthfully stays off.
        expect(status).to_have_text(OFF)
        expect(browsers.first.get_by_text("This browser")).to_be_hidden()

        # Finn follows Cora from his own browser.
        fan = watch_console(browser.new_context(base_url=push_server.url, **DESKTOP), problems)
        log_in(fan, *FAN)
        fan.goto("/@cora")
        fan.get_by_role("button", name="Follow", exact=True).click()
        expect(fan.get_by_role("button", name=re.compile("Following|Unfollow"))).to_be_visible()
        fan.context.close()

        # The server's background task pushed it: encrypted for Cora's keys, signed with VAPID.
        deadline = time.monotonic() + 15
        while not push_service.received:
            assert time.monotonic() < deadline, "nothing reached the push service"
            time.sleep(0.1)
        (message,) = push_service.received
        headers = {k.lower(): v for k, v in message.headers.items()}
        assert headers["content-encoding"] == "aes128gcm"
        server_key = page.request.get("/api/v1/push/vapid-public-key").json()["public_key"]
        check_vapid(headers["authorization"], server_key, push_service.origin)
        payload = json.loads(keys.decrypt(message.body))
        assert payload["title"] == "LiveLite"
        assert payload["body"] == "Finn started following you."
        assert payload["url"] == "/@finn"

        # Chrome would now wake the worker with that message: CDP does it here.
        cdp = context.new_cdp_session(page)
        worker_errors: list[dict] = []
        registration = registration_id(page, cdp, f"{push_server.url}/", worker_errors)
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": push_server.url, "registrationId": registration, "data": json.dumps(payload)},
        )
        # Generous: starting the worker for a push is slow on a loaded machine.
        deadline = time.monotonic() + 30
        while not (shown := shown_notifications(page)):
            assert time.monotonic() < deadline, f"the service worker showed no notification: {worker_errors}"
            page.wait_for_timeout(100)
        assert shown == [
            {
                "title": "LiveLite",
                "body": "Finn started following you.",
                "tag": payload["tag"],
                "icon": f"{push_server.url}/static/img/icon-192.png",
                "data": {"url": f"{push_server.url}/@finn"},
            }
        ]

        # The push service said 201: the tab now shows when it last delivered.
        page.reload()
        expect(page.locator(".push-browser").first).to_contain_text("last delivery")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def subscribe_through_the_api(page: Page, endpoint: str) -> None:
    """What the Notifications tab does with ``PushSubscription.toJSON()``."""
    answer = page.evaluate(
        """(sub) => fetch("/api/v1/push/subscriptions", {method: "POST",
             headers: {"Content-Type": "application/json",
                       "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content},
             body: JSON.stringify(sub)}).then(r => r.status)""",
        PushKeys().subscription(endpoint),
    )
    assert answer == 201


# In place of Chrome's own PushManager.getSubscription (this Chrome cannot subscribe):
# this browser's subscription, whose unsubscribe() leaves a mark in sessionStorage.
THIS_BROWSERS_SUBSCRIPTION = """
(() => {
  const endpoint = %s;
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve({
      endpoint: endpoint,
      unsubscribe: () => {
        sessionStorage.setItem("unsubscribed", endpoint);
        return Promise.resolve(true);
      },
    });
  };
})();
"""


def test_logging_out_ends_this_browsers_push_subscription(
    browser: Browser, push_server: LiveServer, push_service: PushService
):
    problems: list[str] = []
    context = browser.new_context(base_url=push_server.url, **DESKTOP)
    context.set_default_timeout(10_000)
    context.grant_permissions(["notifications"], origin=push_server.url)
    page = watch_console(context, problems)
    laptop, phone = push_service.endpoint("finn-laptop"), push_service.endpoint("finn-phone")
    try:
        log_in(page, *FAN)
        # The Notifications tab registers the service worker for the whole site.
        page.goto("/settings/notifications")
        expect(page.locator("#push-status")).to_have_text(OFF)
        subscribe_through_the_api(page, laptop)  # this browser
        subscribe_through_the_api(page, phone)  # Finn's phone, elsewhere
        context.add_init_script(THIS_BROWSERS_SUBSCRIPTION % json.dumps(laptop))

        page.goto("/@finn")
        page.get_by_label("Account menu").click()
        page.get_by_role("menu").get_by_role("menuitem", name="Log out").click()
        expect(page.get_by_role("status")).to_contain_text("You are logged out.")
        expect(page.get_by_role("link", name="Log in")).to_be_visible()
        # The browser dropped its subscription...
        assert page.evaluate("() => sessionStorage.getItem('unsubscribed')") == laptop

        # ...and the server forgot it for Finn; his phone still gets his notifications.
        log_in(page, *FAN)
        page.goto("/settings/notifications")
        listed = page.locator(".push-browser").evaluate_all("items => items.map(i => i.dataset.endpoint)")
        assert listed == [phone]
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_a_push_service_that_never_answers_gets_a_clear_message(
    playwright_instance: Playwright, push_server: LiveServer, tmp_path
):
    """In a normal (persistent) profile Chrome tries Google's push service, which it
    cannot reach here, and subscribe() never settles: the page gives up and says so."""
    problems: list[str] = []
    context = playwright_instance.chromium.launch_persistent_context(
        tmp_path / "profile",
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        base_url=push_server.url,
        **DESKTOP,
    )
    try:
        context.set_default_timeout(10_000)
        context.grant_permissions(["notifications"], origin=push_server.url)
        page = watch_console(context, problems)
        log_in(page, *CREATOR)
        page.goto("/settings/notifications")
        status = page.locator("#push-status")
        expect(status).to_have_text(OFF)
        # The page waits 20 s in real use; a test has no such patience.
        page.locator("[data-push]").evaluate("el => { el.dataset.subscribeTimeoutMs = '1500'; }")
        switch = page.get_by_role("switch", name="Notifications on this browser")
        switch.click()
        expect(status).to_have_text("One moment…")
        expect(switch).to_be_disabled()
        expect(status).to_have_text(
            "This browser’s push service did not answer. Try again later, or use another browser."
        )
        expect(switch).to_be_enabled()
        expect(switch).to_have_attribute("aria-checked", "false")
    finally:
        context.close()
    assert not problems, "\n".join(problems)

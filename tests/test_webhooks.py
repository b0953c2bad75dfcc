"""Webhooks (services.webhooks, the admin pages and API) against a real HTTP receiver:
a stdlib server on 127.0.0.1 that records every request and answers what a test says.
Deliveries are driven by ``deliver_due(now=...)``; one test runs the worker as the
server starts it."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from factories import make_admin, make_token, make_user
from pages import field_errors, find_form, flashes, meta_csrf_token, text_of

from livelite.extensions import db, socketio
from livelite.models import AccountKind, Role, TransactionType, Visibility
from livelite.models.base import utcnow
from livelite.models.webhooks import DeliveryStatus, Webhook, WebhookDelivery
from livelite.services import events, gifts, ledger, lives, webhooks
from livelite.services.errors import PermissionDenied, ValidationFailed


# -- the receiver ----------------------------------------------------------------------
class Receiver:
    """Records each POST (headers, body); answers ``answers`` in turn, then ``default``.
    ``delays`` makes the first requests wait that many seconds before answering."""

    def __init__(self, answers=(), default=200, delays=()):
        self.requests: list[dict] = []
        self.answers = list(answers)
        self.default = default
        self.delays = list(delays)
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = receiver.answers.pop(0) if receiver.answers else receiver.default
                    delay = receiver.delays.pop(0) if receiver.delays else 0
                    receiver.arrived.notify_all()
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


def verify(secret: str, request: dict, tolerance: int = 300) -> bool:
    """What a receiver does (docs/webhooks.md): recompute the HMAC over "t.body"."""
    header = request["headers"]["X-LiveLite-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, parts["v1"])


def payload(request: dict) -> dict:
    return json.loads(request["body"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Site:
    def __init__(self):
        self.admin = make_admin()
        self.host = make_user("maker", role=Role.CREATOR, display_name="Maker")
        self.fan = make_user("fan", display_name="Fan")

    def hook(self, url, events=tuple(webhooks.EVENTS), **kw) -> Webhook:
        return webhooks.create_webhook(self.admin, url=url, events=list(events), **kw)


@pytest.fixture
def site(app):
    with app.app_context():
        yield Site()


def give_coins(user, coins: int) -> None:
    ledger.post(
        TransactionType.GRANT,
        [
            ledger.Leg(ledger.account_id(AccountKind.PLATFORM_GRANTS), -coins),
            ledger.Leg(ledger.account_id(AccountKind.COINS, user), coins),
        ],
        key=f"test-grant:{user.id}:{coins}",
        reference="test",
    )
    db.session.commit()


def deliveries(hook: Webhook) -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)))


# -- the four events -------------------------------------------------------------------
def test_going_live_posts_a_signed_live_started_with_the_lives_facts(site, receiver):
    r = receiver()
    hook = site.hook(r.url, description="Chat bot")
    live = lives.start_live(site.host, title="Morning show")
    assert r.requests == []  # queued, not sent inline
    assert webhooks.deliver_due() == 1
    assert len(r.requests) == 1
    request = r.requests[0]
    assert request["path"] == "/hook"
    headers = request["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "LiveLite-Webhooks/1"
    assert headers["X-LiveLite-Event"] == "live.started"
    [delivery] = deliveries(hook)
    assert headers["X-LiveLite-Delivery"] == str(delivery.id)
    assert request["body"] == delivery.payload.encode()  # the exact stored bytes
    assert verify(hook.secret, request)
    assert not verify("whsec_wrong", request)
    body = payload(request)
    assert body["type"] == "live.started"
    assert len(body["id"]) == 36 and body["created_at"].endswith("Z")
    data = body["data"]
    assert data["id"] == live.id and data["title"] == "Morning show" and data["visibility"] == "public"
    assert data["host"] == {"id": site.host.id, "username": "maker", "display_name": "Maker"}
    assert data["started_at"] == live.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["url"] == f"http://127.0.0.1:5000/lives/{live.id}"
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1
    assert delivery.last_status_code == 200 and delivery.delivered_at is not None


def test_a_prepared_live_begun_later_and_an_invite_only_one_are_announced_too(site, receiver, app):
    app.config["PUBLIC_URL"] = "https://live.example.org/"
    r = receiver()
    site.hook(r.url, events=["live.started"])
    live = lives.create_live(site.host, title="Class", visibility=Visibility.INVITE)
    webhooks.deliver_due()
    assert r.requests == []  # prepared is not started
    lives.begin_live(live, site.host)
    webhooks.deliver_due()
    [request] = r.requests
    data = payload(request)["data"]
    assert data["visibility"] == "invite" and data["id"] == live.id
    assert data["url"] == f"https://live.example.org/lives/{live.id}"


def test_ending_a_live_posts_live_ended_with_the_reason_once(site, receiver):
    r = receiver()
    hook = site.hook(r.url, events=["live.ended"])
    live = lives.start_live(site.host, title="Short one")
    lives.end_live(live, "admin")
    lives.end_live(live, "host")  # already ended: nothing new
    webhooks.deliver_due()
    [request] = r.requests
    assert request["headers"]["X-LiveLite-Event"] == "live.ended"
    assert verify(hook.secret, request)
    data = payload(request)["data"]
    assert data["id"] == live.id and data["end_reason"] == "admin"
    assert data["ended_at"] == live.ended_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_scheduling_an_event_posts_event_created(site, receiver):
    r = receiver()
    site.hook(r.url, events=["event.created"])
    starts = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    event = events.create_event(site.host, title="Launch party", starts_at=starts, duration_minutes=90)
    webhooks.deliver_due()
    [request] = r.requests
    body = payload(request)
    assert body["type"] == "event.created"
    assert body["data"] == {
        "id": event.id,
        "title": "Launch party",
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_minutes": 90,
        "creator": {"id": site.host.id, "username": "maker", "display_name": "Maker"},
        "url": f"http://127.0.0.1:5000/events/{event.id}",
    }


def test_a_gift_posts_gift_received_once_and_a_replayed_key_posts_nothing(site, receiver):
    r = receiver()
    site.hook(r.url, events=["gift.received"])
    live = lives.start_live(site.host, title="Gifts")
    give_coins(site.fan, 100)
    rose = gifts.catalogue()[0]
    sent = gifts.send_gift(live, site.fan, site.host.id, rose.id, 3, "gift-key-1")
    again = gifts.send_gift(live, site.fan, site.host.id, rose.id, 3, "gift-key-1")
    assert sent.created and not again.created
    webhooks.deliver_due()
    [request] = r.requests
    data = payload(request)["data"]
    assert data["id"] == sent.send.id and data["live_id"] == live.id
    assert data["gift"] == {"id": rose.id, "name": rose.name}
    assert (data["quantity"], data["coins"], data["diamonds"]) == (3, 3 * rose.coins, sent.send.diamonds)
    assert data["sender"]["username"] == "fan" and data["receiver"]["username"] == "maker"


def test_inactive_or_unsubscribed_webhooks_get_nothing(site, receiver):
    on, off, other = receiver(), receiver(), receiver()
    site.hook(on.url, events=["live.started"])
    site.hook(off.url, events=["live.started"], active=False)
    site.hook(other.url, events=["live.ended", "gift.received"])
    lives.start_live(site.host, title="Who hears")
    assert webhooks.deliver_due() == 1
    assert len(on.requests) == 1 and off.requests == [] and other.requests == []


# -- retries -----------------------------------------------------------------------------
def test_two_500s_then_200_is_three_attempts_with_growing_delays(site, receiver):
    r = receiver(answers=[500, 500])
    hook = site.hook(r.url)
    t0 = utcnow()
    webhooks.send_test(site.admin, hook.id, now=t0)
    assert webhooks.deliver_due(now=t0) == 1
    [d] = deliveries(hook)
    assert (d.status, d.attempts, d.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert d.last_error.startswith("HTTP 500")
    first_wait = (d.next_attempt_at - t0).total_seconds()
    assert 27 <= first_wait <= 33
    assert webhooks.deliver_due(now=t0 + timedelta(seconds=26)) == 0  # not due yet
    t1 = d.next_attempt_at
    assert webhooks.deliver_due(now=t1) == 1
    [d] = deliveries(hook)
    assert d.attempts == 2 and d.status == DeliveryStatus.PENDING
    second_wait = (d.next_attempt_at - t1).total_seconds()
    assert 108 <= second_wait <= 132 and second_wait > first_wait
    assert webhooks.deliver_due(now=d.next_attempt_at) == 1
    [d] = deliveries(hook)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == (
        DeliveryStatus.SUCCEEDED,
        3,
        200,
        None,
    )
    assert len(r.requests) == 3
    # Every attempt carries the same body and delivery id, each freshly signed.
    assert {req["body"] for req in r.requests} == {d.payload.encode()}
    assert {req["headers"]["X-LiveLite-Delivery"] for req in r.requests} == {str(d.id)}
    assert all(verify(hook.secret, req) for req in r.requests)


def test_a_receiver_that_always_fails_ends_failed_after_the_last_attempt(site, receiver):
    r = receiver(default=500)
    hook = site.hook(r.url)
    now = utcnow()
    webhooks.send_test(site.admin, hook.id, now=now)
    waits = []
    for _attempt in range(webhooks.MAX_ATTEMPTS):
        assert webhooks.deliver_due(now=now) == 1
        [d] = deliveries(hook)
        if d.next_attempt_at is not None:
            waits.append((d.next_attempt_at - now).total_seconds())
            now = d.next_attempt_at
    assert d.status == DeliveryStatus.FAILED and d.attempts == 6 and d.next_attempt_at is None
    assert waits == sorted(waits) and len(waits) == 5 and waits[-1] > 5 * 3600
    assert webhooks.deliver_due(now=now + timedelta(days=1)) == 0
    assert len(r.requests) == 6


def test_connection_refused_is_retried(site):
    hook = site.hook(f"http://127.0.0.1:{free_port()}/hook")
    now = utcnow()
    webhooks.send_test(site.admin, hook.id, now=now)
    webhooks.deliver_due(now=now)
    [d] = deliveries(hook)
    assert (d.status, d.attempts, d.last_status_code) == (DeliveryStatus.PENDING, 1, None)
    assert d.last_error == "Connection refused."
    assert d.next_attempt_at > now


def test_a_receiver_slower_than_the_timeout_is_retried_and_then_succeeds(site, receiver, app):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.3
    r = receiver(delays=[1.0])
    hook = site.hook(r.url)
    now = utcnow()
    webhooks.send_test(site.admin, hook.id, now=now)
    started = time.monotonic()
    webhooks.deliver_due(now=now)
    assert time.monotonic() - started < 0.9  # gave up at the timeout
    [d] = deliveries(hook)
    assert d.status == DeliveryStatus.PENDING and d.attempts == 1
    assert "0.3 s" in d.last_error
    webhooks.deliver_due(now=d.next_attempt_at)
    [d] = deliveries(hook)
    assert d.status == DeliveryStatus.SUCCEEDED and d.attempts == 2


def test_a_redirect_is_not_followed_and_counts_as_a_failure(site, receiver):
    r = receiver(answers=[302])
    hook = site.hook(r.url)
    webhooks.send_test(site.admin, hook.id)
    webhooks.deliver_due()
    [d] = deliveries(hook)
    assert len(r.requests) == 1 and d.status == DeliveryStatus.PENDING and d.last_status_code == 302


def test_old_deliveries_are_pruned_after_30_days(site, receiver):
    hook = site.hook(receiver().url)
    now = utcnow()
    webhooks.send_test(site.admin, hook.id, now=now - timedelta(days=31))
    webhooks.send_test(site.admin, hook.id, now=now - timedelta(days=29))
    assert webhooks.prune(now=now) == 1
    assert len(deliveries(hook)) == 1


# -- the worker ----------------------------------------------------------------------------
def test_the_worker_started_as_the_server_does_delivers_without_being_called(site, receiver, app):
    r = receiver()
    site.hook(r.url, events=["live.started"])
    worker = webhooks.worker_of(app)
    worker.start(socketio.start_background_task)
    try:
        lives.start_live(site.host, title="Worker show")
        assert r.wait_for(1, timeout=10)
    finally:
        worker.stop()
    assert payload(r.requests[0])["data"]["title"] == "Worker show"


# -- managing webhooks ------------------------------------------------------------------
def test_urls_are_checked(site):
    for url, message in [
        ("", "Enter the URL"),
        ("ftp://example.com/x", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("https://user:pw@example.com/hook", "user name and password"),
        ("https://example.com/" + "a" * 500, "at most 500"),
    ]:
        with pytest.raises(ValidationFailed) as excinfo:
            site.hook(url)
        assert message in excinfo.value.errors["url"][0], url
    assert site.hook("http://192.168.1.20:8080/in?token=x").url == "http://192.168.1.20:8080/in?token=x"


def test_events_must_be_chosen_among_the_four_and_only_admins_manage_webhooks(site):
    with pytest.raises(ValidationFailed) as excinfo:
        site.hook("https://example.com/h", events=[])
    assert "at least one" in excinfo.value.errors["events"][0]
    with pytest.raises(ValidationFailed):
        site.hook("https://example.com/h", events=["live.exploded"])
    hook = site.hook("https://example.com/h", events=["gift.received", "live.started"])
    assert hook.events == "live.started,gift.received" and hook.secret.startswith("whsec_")
    old = hook.secret
    assert webhooks.rotate_secret(site.admin, hook.id).secret != old
    for call in (
        lambda: webhooks.create_webhook(site.host, url="https://example.com/h", events=["live.started"]),
        lambda: webhooks.update_webhook(site.host, hook.id, active=False),
        lambda: webhooks.list_webhooks(site.fan),
        lambda: webhooks.send_test(site.fan, hook.id),
    ):
        with pytest.raises(PermissionDenied):
            call()


# -- pages -------------------------------------------------------------------------------
@pytest.fixture
def admin_client(app, client, auth):
    with app.app_context():
        make_admin()
        make_user("member")
    auth.login("siteadmin")
    return client


def test_the_admin_adds_a_webhook_keeping_what_was_typed_after_an_error(app, admin_client):
    page = admin_client.get("/admin/webhooks")
    html = page.get_data(as_text=True)
    assert 'aria-current="page">Webhooks' in html
    form = find_form(html, "/admin/webhooks")
    values = form.values()
    values.update({"url": "https://bob:secret@hooks.example.com/in", "description": "Zapier <bridge>"})
    values["events"] = ["live.started", "gift.received"]
    response = admin_client.post("/admin/webhooks", data=values)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "user name and password" in field_errors(html, "new-webhook-url")[0]
    assert 'value="https://bob:secret@hooks.example.com/in"' in html
    assert 'value="Zapier &lt;bridge&gt;"' in html
    assert 'value="live.started" checked' in html and 'value="gift.received" checked' in html
    assert 'value="live.ended" checked' not in html

    values["url"] = "https://hooks.example.com/in"
    response = admin_client.post("/admin/webhooks", data=values, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "The webhook is added" in " ".join(flashes(html))
    with app.app_context():
        hook = db.session.scalar(db.select(Webhook))
        assert hook.events == "live.started,gift.received" and hook.description == "Zapier <bridge>"
        secret = hook.secret
    assert f'value="{secret}"' in html and "Zapier &lt;bridge&gt;" in html


def test_send_a_test_shows_in_the_delivery_log_and_can_be_redelivered(app, admin_client, receiver):
    r = receiver(answers=[503])
    with app.app_context():
        hook_id = webhooks.create_webhook(
            db.session.scalar(db.select(webhooks.User).where(webhooks.User.username == "siteadmin")),
            url=r.url,
            events=["live.started"],
        ).id
    html = admin_client.get("/admin/webhooks").get_data(as_text=True)
    form = find_form(html, f"/admin/webhooks/{hook_id}/test")
    response = admin_client.post(form.action, data=form.values(), follow_redirects=True)
    assert "A test event is on its way" in " ".join(flashes(response.get_data(as_text=True)))
    with app.app_context():
        webhooks.deliver_due()
    html = admin_client.get(f"/admin/webhooks/{hook_id}").get_data(as_text=True)
    text = text_of(html)
    assert "Test (ping)" in text and "Retrying" in text and "503" in text and "1 of 6" in text
    assert payload(r.requests[0])["type"] == "ping"
    with app.app_context():
        webhooks.deliver_due(now=utcnow() + timedelta(minutes=1))
        delivery_id = db.session.scalar(db.select(WebhookDelivery.id))
    html = admin_client.get(f"/admin/webhooks/{hook_id}").get_data(as_text=True)
    assert "Delivered" in text_of(html)
    form = find_form(html, f"/admin/webhooks/deliveries/{delivery_id}/redeliver")
    admin_client.post(form.action, data=form.values())
    with app.app_context():
        webhooks.deliver_due()
        rows = list(db.session.scalars(db.select(WebhookDelivery).order_by(WebhookDelivery.id)))
    assert len(rows) == 2 and rows[1].payload == rows[0].payload
    assert r.requests[-1]["headers"]["X-LiveLite-Delivery"] == str(rows[1].id)


def test_non_admins_get_403_on_every_webhook_page_and_api_operation(app, client, auth):
    with app.app_context():
        admin = make_admin()
        hook = webhooks.create_webhook(admin, url="https://example.com/h", events=["live.started"])
        delivery = webhooks.send_test(admin, hook.id)
        member = make_user("member")
        token = make_token(member, scopes=("read", "write"))
        hook_id, delivery_id = hook.id, delivery.id
    pages = [
        ("get", "/admin/webhooks"),
        ("post", "/admin/webhooks"),
        ("get", f"/admin/webhooks/{hook_id}"),
        ("get", f"/admin/webhooks/{hook_id}/edit"),
        ("post", f"/admin/webhooks/{hook_id}/edit"),
        ("post", f"/admin/webhooks/{hook_id}/active"),
        ("post", f"/admin/webhooks/{hook_id}/secret"),
        ("post", f"/admin/webhooks/{hook_id}/delete"),
        ("post", f"/admin/webhooks/{hook_id}/test"),
        ("post", f"/admin/webhooks/deliveries/{delivery_id}/redeliver"),
    ]
    api = [
        ("get", "/api/v1/admin/webhooks"),
        ("post", "/api/v1/admin/webhooks"),
        ("get", f"/api/v1/admin/webhooks/{hook_id}"),
        ("patch", f"/api/v1/admin/webhooks/{hook_id}"),
        ("delete", f"/api/v1/admin/webhooks/{hook_id}"),
        ("post", f"/api/v1/admin/webhooks/{hook_id}/secret"),
        ("post", f"/api/v1/admin/webhooks/{hook_id}/test"),
        ("get", f"/api/v1/admin/webhooks/{hook_id}/deliveries"),
        ("post", f"/api/v1/admin/webhooks/deliveries/{delivery_id}/redeliver"),
    ]
    auth.login("member")
    csrf = {"csrf_token": meta_csrf_token(client.get("/").get_data(as_text=True))}
    for method, url in pages:
        kwargs = (
            {"data": {**csrf, "url": "https://evil.example/h", "events": "live.started"}}
            if method == "post"
            else {}
        )
        assert getattr(client, method)(url, **kwargs).status_code == 403, (method, url)
    bearer = {"Authorization": f"Bearer {token}"}
    body = {"url": "https://evil.example/h", "events": ["live.started"]}
    for method, url in api:
        kwargs = {"json": body} if method in ("post", "patch") else {}
        assert getattr(client, method)(url, headers=bearer, **kwargs).status_code == 403, (method, url)
    with app.app_context():
        db.session.expire_all()
        hook = db.session.get(Webhook, hook_id)
        assert hook.url == "https://example.com/h" and hook.active
        assert db.session.scalar(db.select(db.func.count()).select_from(WebhookDelivery)) == 1


def test_the_api_manages_webhooks_and_reads_deliveries(app, client):
    with app.app_context():
        admin = make_admin()
        token = make_token(admin, scopes=("read", "write"))
    bearer = {"Authorization": f"Bearer {token}"}
    bad = client.post(
        "/api/v1/admin/webhooks", headers=bearer, json={"url": "ftp://x", "events": ["live.started"]}
    )
    assert bad.status_code == 422 and "url" in bad.get_json()["error"]["errors"]
    made = client.post(
        "/api/v1/admin/webhooks",
        headers=bearer,
        json={"url": "https://example.com/h", "events": ["live.ended"], "description": "CI"},
    )
    assert made.status_code == 201
    hook = made.get_json()
    assert hook["events"] == ["live.ended"] and hook["secret"].startswith("whsec_") and hook["active"]
    changed = client.patch(f"/api/v1/admin/webhooks/{hook['id']}", headers=bearer, json={"active": False})
    assert changed.get_json()["active"] is False and changed.get_json()["url"] == "https://example.com/h"
    rotated = client.post(f"/api/v1/admin/webhooks/{hook['id']}/secret", headers=bearer).get_json()
    assert rotated["secret"] != hook["secret"]
    ping = client.post(f"/api/v1/admin/webhooks/{hook['id']}/test", headers=bearer)
    assert ping.status_code == 202 and ping.get_json()["event"] == "ping"
    listed = client.get(f"/api/v1/admin/webhooks/{hook['id']}/deliveries", headers=bearer).get_json()
    assert listed["total"] == 1 and listed["items"][0]["status"] == "pending"
    assert json.loads(listed["items"][0]["payload"])["data"]["webhook_id"] == hook["id"]
    again = client.post(
        f"/api/v1/admin/webhooks/deliveries/{listed['items'][0]['id']}/redeliver", headers=bearer
    )
    assert again.status_code == 202
    assert client.get("/api/v1/admin/webhooks", headers=bearer).get_json()["items"][0]["id"] == hook["id"]
    assert client.delete(f"/api/v1/admin/webhooks/{hook['id']}", headers=bearer).status_code == 204
    assert client.get(f"/api/v1/admin/webhooks/{hook['id']}", headers=bearer).status_code == 404

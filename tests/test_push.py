"""Web Push, end to end: the VAPID key, subscribing, and delivery to a real push service.

The push service here is an HTTP server on 127.0.0.1 in a thread (tests/push_support.py).
Its browsers' keys are made in the test, so it decrypts what it receives itself (RFC
8291 / RFC 8188 aes128gcm, written out from the RFCs and cross-checked with
``http_ece``) and checks the VAPID signature (RFC 8292) against the server's public
key. pywebpush is not mocked.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import time

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from factories import make_admin, make_token, make_user
from pages import find_form, flashes, meta_csrf_token, text_of
from push_support import Browser, PushService, b64url, check_vapid, free_port, unb64url
from sqlalchemy import func, select

from livelite.extensions import db
from livelite.models import Notification, PushSubscription, Role, User
from livelite.services import accounts, push
from livelite.webpush import VAPID_KEY_FILE


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.close()


# -- fixtures ----------------------------------------------------------------------------
# The push service of these tests listens on 127.0.0.1, which a real site refuses
# (PUSH_ALLOW_PRIVATE_ENDPOINTS is off by default): tests that use it turn it on.
LOCAL = {"PUSH_ALLOW_PRIVATE_ENDPOINTS": True}


@pytest.fixture
def app(make_app):
    """Pushes go out inside notify() here, so a test sees their effect when it returns."""
    return make_app(PUSH_SYNC=True, **LOCAL)


@pytest.fixture
def site(app):
    with app.app_context():
        make_admin()
        make_user("carla", display_name="Carla", role=Role.CREATOR)
        make_user("fred", display_name="Fred")
        make_user("gina", display_name="Gina")
    return app


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def subscribe(username: str, browser: Browser, endpoint: str, **kwargs) -> int:
    sub = browser.subscription(endpoint)
    row = push.subscribe(get(username), endpoint, sub["keys"]["p256dh"], sub["keys"]["auth"], **kwargs)
    return row.id


def stored(subscription_id: int) -> PushSubscription | None:
    db.session.expire_all()
    return db.session.get(PushSubscription, subscription_id)


def server_key(client) -> str:
    return client.get("/api/v1/push/vapid-public-key").get_json()["public_key"]


# -- the VAPID key -----------------------------------------------------------------------
def test_the_vapid_key_is_made_once_private_to_its_owner_and_kept_across_restarts(make_app, tmp_path):
    folder = tmp_path / "instance"
    first = make_app(INSTANCE_PATH=folder)
    key_file = folder / VAPID_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    pem = key_file.read_bytes()
    public = first.test_client().get("/api/v1/push/vapid-public-key").get_json()["public_key"]
    # The key browsers are given is the public half of the file's key, as an uncompressed point.
    private = serialization.load_pem_private_key(pem, password=None)
    assert unb64url(public) == private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert len(unb64url(public)) == 65 and unb64url(public)[0] == 4

    again = make_app(INSTANCE_PATH=folder)
    assert key_file.read_bytes() == pem
    assert again.test_client().get("/api/v1/push/vapid-public-key").get_json()["public_key"] == public
    # Another instance gets its own key.
    other = make_app(INSTANCE_PATH=tmp_path / "other")
    assert other.test_client().get("/api/v1/push/vapid-public-key").get_json()["public_key"] != public
    assert not list(folder.glob(".*.tmp"))


def test_a_bad_vapid_subject_stops_the_app_at_start(make_app):
    with pytest.raises(RuntimeError, match="VAPID_SUBJECT"):
        make_app(VAPID_SUBJECT="admin@example.com")


# -- delivery ----------------------------------------------------------------------------
def test_a_follow_is_pushed_encrypted_and_signed_to_each_of_the_persons_browsers(site, client, push_service):
    laptop, phone = Browser(), Browser()
    with site.app_context():
        laptop_id = subscribe("carla", laptop, push_service.endpoint("laptop"))
        phone_id = subscribe("carla", phone, push_service.endpoint("phone"))
        gina_id = subscribe("gina", Browser(), push_service.endpoint("gina"))
        db.session.get(PushSubscription, phone_id).failures = 2
        db.session.commit()

        accounts.follow(get("fred"), get("carla"))
        fred_id = get("fred").id

    expected = {
        "title": "LiveLite",
        "body": "Fred started following you.",
        "url": "/@fred",
        "tag": f"follow:{fred_id}",
    }
    key = server_key(client)
    for browser, name in ((laptop, "laptop"), (phone, "phone")):
        (message,) = push_service.to(push_service.endpoint(name))
        headers = {k.lower(): v for k, v in message.headers.items()}
        assert headers["content-encoding"] == "aes128gcm"
        assert headers["ttl"] == str(12 * 3600)
        check_vapid(headers["authorization"], key, push_service.origin)
        plain = browser.decrypt(message.body)
        assert json.loads(plain) == expected
        # The same bytes through http_ece, the reference implementation, as a cross-check.
        assert (
            http_ece.decrypt(message.body, private_key=browser.private_key, auth_secret=browser.auth) == plain
        )
    # Each browser gets its own encryption: one cannot read the other's message.
    with pytest.raises(Exception):  # noqa: B017  (cryptography's InvalidTag, or a bad point)
        laptop.decrypt(push_service.to(push_service.endpoint("phone"))[0].body)
    assert push_service.to(push_service.endpoint("gina")) == []

    with site.app_context():
        for sub_id in (laptop_id, phone_id):
            row = stored(sub_id)
            assert row.last_success_at is not None and row.failures == 0
        assert stored(gina_id).last_success_at is None


def test_a_follow_through_the_api_is_pushed_from_inside_the_request(site, client, push_service):
    browser = Browser()
    with site.app_context():
        subscribe("carla", browser, push_service.endpoint("laptop"))
        secret = make_token(get("fred"), scopes=("read", "write"))
    response = client.put("/api/v1/users/carla/follow", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    (message,) = push_service.received
    assert json.loads(browser.decrypt(message.body))["body"] == "Fred started following you."


def test_the_push_is_in_the_readers_language(site, push_service):
    chosen, from_page = Browser(), Browser()
    with site.app_context():
        accounts.set_locale(get("carla"), "fr")
        subscribe("carla", chosen, push_service.endpoint("carla"))
        # Gina never chose a language; her browser's page was in French when she subscribed.
        subscribe("gina", from_page, push_service.endpoint("gina"), locale="fr")
        accounts.follow(get("fred"), get("carla"))
        accounts.follow(get("fred"), get("gina"))
        accounts.set_locale(get("gina"), "en")  # her own choice wins from now on
        accounts.follow(get("carla"), get("gina"))

    (to_carla,) = push_service.to(push_service.endpoint("carla"))
    assert json.loads(chosen.decrypt(to_carla.body))["body"] == "Fred s’est abonné(e) à toi."
    first, second = push_service.to(push_service.endpoint("gina"))
    assert json.loads(from_page.decrypt(first.body))["body"] == "Fred s’est abonné(e) à toi."
    assert json.loads(from_page.decrypt(second.body))["body"] == "Carla started following you."


@pytest.mark.parametrize("status", [404, 410])
def test_a_push_service_saying_gone_removes_the_subscription_at_once(site, push_service, status):
    with site.app_context():
        gone = subscribe("carla", Browser(), push_service.endpoint("old", status))
        alive = subscribe("carla", Browser(), push_service.endpoint("new"))
        accounts.follow(get("fred"), get("carla"))
        assert stored(gone) is None
        assert stored(alive).last_success_at is not None
        assert len(push_service.received) == 2
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_other_failures_are_counted_and_enough_in_a_row_remove_the_subscription(make_app, push_service):
    app = make_app(PUSH_SYNC=True, PUSH_MAX_FAILURES=3, **LOCAL)
    with app.app_context():
        make_admin()
        make_user("carla", display_name="Carla")
        fans = [make_user(f"fan{i}") for i in range(3)]
        broken = subscribe("carla", Browser(), push_service.endpoint("broken", 500))
        # Nobody listens on this port: a refused connection is a failure too.
        unreachable = subscribe("carla", Browser(), f"http://127.0.0.1:{free_port()}/push")

        accounts.follow(fans[0], get("carla"))
        assert (stored(broken).failures, stored(broken).last_success_at) == (1, None)
        assert stored(unreachable).failures == 1
        accounts.follow(fans[1], get("carla"))
        assert stored(broken).failures == 2
        accounts.follow(fans[2], get("carla"))
        assert stored(broken) is None and stored(unreachable) is None
        # The notifications themselves are all there.
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 3


def test_a_success_resets_the_failure_count(site, push_service):
    with site.app_context():
        sub_id = subscribe("carla", Browser(), push_service.endpoint("flaky", 500))
        accounts.follow(get("fred"), get("carla"))
        assert stored(sub_id).failures == 1
        # The browser's push service is back (same endpoint row, now answering 201).
        stored(sub_id).endpoint = push_service.endpoint("flaky")
        db.session.commit()
        accounts.follow(get("gina"), get("carla"))
        row = stored(sub_id)
        assert row.failures == 0 and row.last_success_at is not None


def test_an_unexpected_error_in_delivery_never_reaches_the_caller(site, push_service, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("bug in the sender")

    with site.app_context():
        sub_id = subscribe("carla", Browser(), push_service.endpoint("laptop"))
        monkeypatch.setattr(site.extensions["livelite.push"], "send", explode)
        assert accounts.follow(get("fred"), get("carla")) is True
        assert [n.kind for n in db.session.scalars(select(Notification))] == ["new_follower"]
        # Our own bug is logged, and not held against the browser.
        assert stored(sub_id).failures == 0
    assert "bug in the sender" in caplog.text


def test_delivery_happens_in_the_background_without_holding_up_the_request(make_app, push_service):
    app = make_app(**LOCAL)  # PUSH_SYNC off, as in production
    browser = Browser()
    with app.app_context():
        make_admin()
        make_user("carla", display_name="Carla")
        make_user("fred", display_name="Fred")
        sub_id = subscribe("carla", browser, push_service.endpoint("laptop"))

        push_service.gate.clear()  # the push service takes its time answering
        started = time.monotonic()
        accounts.follow(get("fred"), get("carla"))
        assert time.monotonic() - started < 5, "the follow waited for the push service"
        assert stored(sub_id).last_success_at is None

        push_service.gate.set()
        assert app.extensions["livelite.push"].wait_idle(timeout=10)
        (message,) = push_service.received
        assert json.loads(browser.decrypt(message.body))["body"] == "Fred started following you."
        assert stored(sub_id).last_success_at is not None


def test_people_without_a_browser_cost_no_push_work(make_app, push_service, monkeypatch):
    app = make_app(**LOCAL)
    with app.app_context():
        make_admin()
        make_user("carla")
        make_user("fred")
        queued = []
        monkeypatch.setattr(app.extensions["livelite.push"], "put", queued.append)
        accounts.follow(get("fred"), get("carla"))
        assert queued == []
        subscribe("carla", Browser(), push_service.endpoint("laptop"))
        accounts.unfollow(get("fred"), get("carla"))
        accounts.follow(get("fred"), get("carla"))  # the same news again: not stored, not pushed
        assert queued == []
        accounts.follow(get("carla"), get("fred"))  # fred has no browser
        assert queued == []


# -- the API -----------------------------------------------------------------------------
def test_subscribe_list_and_unsubscribe_through_the_api_with_the_session(site, client, auth, csrf_headers):
    browser = Browser()
    endpoint = "https://push.example.net/send/abc123"
    auth.login("carla")
    headers = {
        **csrf_headers(),
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
    }
    created = client.post("/api/v1/push/subscriptions", json=browser.subscription(endpoint), headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["endpoint"] == endpoint and body["browser"] == "Firefox on Linux"
    assert body["last_success_at"] is None and body["failures"] == 0

    listed = client.get("/api/v1/push/subscriptions").get_json()
    assert [item["id"] for item in listed] == [body["id"]]
    with site.app_context():
        row = stored(body["id"])
        assert (row.p256dh, row.user_id) == (browser.p256dh, get("carla").id)

    # Subscribing again (the browser renewed its keys) refreshes the one row.
    renewed = Browser()
    again = client.post(
        "/api/v1/push/subscriptions", json=renewed.subscription(endpoint), headers=csrf_headers()
    )
    assert again.status_code == 201 and again.get_json()["id"] == body["id"]
    with site.app_context():
        assert stored(body["id"]).p256dh == renewed.p256dh

    gone = client.delete(
        "/api/v1/push/subscriptions", query_string={"endpoint": endpoint}, headers=csrf_headers()
    )
    assert gone.status_code == 204
    assert client.get("/api/v1/push/subscriptions").get_json() == []
    missing = client.delete(
        "/api/v1/push/subscriptions", query_string={"endpoint": endpoint}, headers=csrf_headers()
    )
    assert missing.status_code == 404


def test_session_writes_need_the_csrf_header_and_everything_needs_a_login(site, client, auth):
    sub = Browser().subscription("https://push.example.net/x")
    assert client.post("/api/v1/push/subscriptions", json=sub).status_code == 401
    assert client.get("/api/v1/push/subscriptions").status_code == 401
    auth.login("carla")
    refused = client.post("/api/v1/push/subscriptions", json=sub)
    assert refused.status_code == 400
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0


def test_tokens_need_the_write_scope_to_subscribe(site, client):
    with site.app_context():
        reader = make_token(get("carla"), scopes=("read",))
        writer = make_token(get("carla"), scopes=("read", "write"))
    sub = Browser().subscription("https://push.example.net/x")
    denied = client.post(
        "/api/v1/push/subscriptions", json=sub, headers={"Authorization": f"Bearer {reader}"}
    )
    assert denied.status_code == 403
    made = client.post("/api/v1/push/subscriptions", json=sub, headers={"Authorization": f"Bearer {writer}"})
    assert made.status_code == 201
    listed = client.get("/api/v1/push/subscriptions", headers={"Authorization": f"Bearer {reader}"})
    assert [item["endpoint"] for item in listed.get_json()] == ["https://push.example.net/x"]


def _bad(**changes) -> dict:
    sub = Browser().subscription("https://push.example.net/x")
    for name, value in changes.items():
        if name in ("p256dh", "auth"):
            sub["keys"][name] = value
        else:
            sub[name] = value
    return sub


NOT_ON_CURVE = b64url(b"\x04" + b"\x01" * 64)
BAD_ENDPOINT = "The endpoint must be an https or http URL of at most 1024 characters."
BAD_P256DH = "keys.p256dh must be the browser’s P-256 public key: 65 bytes, base64url-encoded."
BAD_AUTH = "keys.auth must be the browser’s 16-byte authentication secret, base64url-encoded."


@pytest.mark.parametrize(
    ("changes", "field_name", "message"),
    [
        ({"endpoint": "ftp://push.example.net/x"}, "endpoint", BAD_ENDPOINT),
        ({"endpoint": "not a url"}, "endpoint", BAD_ENDPOINT),
        ({"endpoint": "https:///no-host"}, "endpoint", BAD_ENDPOINT),
        ({"endpoint": "https://push.example.net/" + "x" * 1024}, "endpoint", BAD_ENDPOINT),
        ({"p256dh": b64url(os.urandom(33))}, "keys.p256dh", BAD_P256DH),
        ({"p256dh": NOT_ON_CURVE}, "keys.p256dh", BAD_P256DH),
        ({"p256dh": "not base64 at all!"}, "keys.p256dh", BAD_P256DH),
        ({"auth": b64url(os.urandom(15))}, "keys.auth", BAD_AUTH),
        ({"auth": base64.b64encode(b"\xfb\xff" * 8).decode()}, "keys.auth", BAD_AUTH),  # +/ is not base64url
    ],
)
def test_bad_subscriptions_are_refused_with_a_clear_400(
    site, client, auth, csrf_headers, changes, field_name, message
):
    auth.login("carla")
    response = client.post("/api/v1/push/subscriptions", json=_bad(**changes), headers=csrf_headers())
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["message"] == message
    assert error["errors"] == {field_name: [message]}
    with site.app_context():
        assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0


def test_a_subscription_without_keys_is_refused_by_the_schema(site, client, auth, csrf_headers):
    auth.login("carla")
    response = client.post(
        "/api/v1/push/subscriptions", json={"endpoint": "https://push.example.net/x"}, headers=csrf_headers()
    )
    assert response.status_code == 422
    assert "keys" in response.get_json()["error"]["errors"]


def test_an_endpoint_moves_to_whoever_subscribes_it_and_others_cannot_remove_yours(
    site, client, auth, csrf_headers
):
    endpoint = "https://push.example.net/shared-computer"
    with site.app_context():
        first_id = subscribe("gina", Browser(), endpoint)
        ginas_other = subscribe("gina", Browser(), "https://push.example.net/ginas-phone")
    auth.login("carla")
    moved = client.post(
        "/api/v1/push/subscriptions", json=Browser().subscription(endpoint), headers=csrf_headers()
    )
    assert moved.status_code == 201 and moved.get_json()["id"] == first_id
    with site.app_context():
        assert stored(first_id).user_id == get("carla").id

    # Gina's phone is not Carla's to remove, by id or by endpoint.
    by_id = client.delete(f"/api/v1/push/subscriptions/{ginas_other}", headers=csrf_headers())
    assert by_id.status_code == 404
    by_endpoint = client.delete(
        "/api/v1/push/subscriptions",
        query_string={"endpoint": "https://push.example.net/ginas-phone"},
        headers=csrf_headers(),
    )
    assert by_endpoint.status_code == 404
    with site.app_context():
        assert stored(ginas_other) is not None
    assert client.delete(f"/api/v1/push/subscriptions/{first_id}", headers=csrf_headers()).status_code == 204
    with site.app_context():
        assert stored(first_id) is None


def test_one_person_keeps_at_most_twenty_browsers_the_oldest_making_room(site):
    with site.app_context():
        ids = [
            subscribe("carla", Browser(), f"https://push.example.net/{i}")
            for i in range(push.MAX_PER_USER + 1)
        ]
        left = [row.id for row in push.subscriptions_of(get("carla"))]
        assert len(left) == push.MAX_PER_USER
        assert ids[0] not in left and ids[-1] in left


def test_deleting_the_account_deletes_its_subscriptions(site):
    with site.app_context():
        sub_id = subscribe("fred", Browser(), "https://push.example.net/fred")
        accounts.delete_account(get("fred"), "correct horse battery")
        assert stored(sub_id) is None


# -- redirects ---------------------------------------------------------------------------
def test_a_push_service_redirect_is_not_followed(site, push_service):
    """A redirect would carry the POST to an address no check has seen."""
    with site.app_context():
        sub_id = subscribe("carla", Browser(), push_service.endpoint("moved", 307))
        accounts.follow(get("fred"), get("carla"))
        assert [r.path for r in push_service.received] == ["/push/307/moved"]
        assert stored(sub_id).failures == 1


# -- logging out -------------------------------------------------------------------------
def logout_form(client) -> dict:
    return find_form(client.get("/").get_data(as_text=True), "/logout").values()


def test_logging_out_with_this_browsers_endpoint_removes_only_its_subscription(site, client, auth):
    with site.app_context():
        laptop = subscribe("carla", Browser(), "https://push.example.net/carla-laptop")
        phone = subscribe("carla", Browser(), "https://push.example.net/carla-phone")
    auth.login("carla")
    values = logout_form(client)
    # Without JavaScript the field is there, empty.
    assert values["push_endpoint"] == ""
    response = client.post(
        "/logout",
        data={**values, "push_endpoint": "https://push.example.net/carla-laptop"},
        follow_redirects=True,
    )
    assert flashes(response.get_data(as_text=True)) == ["You are logged out."]
    assert client.get("/settings/notifications").status_code == 302
    with site.app_context():
        assert stored(laptop) is None
        assert stored(phone) is not None


def test_logging_out_leaves_other_peoples_subscriptions_and_works_without_an_endpoint(site, client, auth):
    with site.app_context():
        ginas = subscribe("gina", Browser(), "https://push.example.net/gina")
        carlas = subscribe("carla", Browser(), "https://push.example.net/carla")
    auth.login("carla")
    response = client.post(
        "/logout",
        data={**logout_form(client), "push_endpoint": "https://push.example.net/gina"},
        follow_redirects=True,
    )
    assert flashes(response.get_data(as_text=True)) == ["You are logged out."]
    with site.app_context():
        assert stored(ginas) is not None
        assert stored(carlas) is not None

    # The form as a browser without JavaScript sends it: logged out, nothing removed.
    auth.login("carla")
    response = auth.logout(follow_redirects=True)
    assert flashes(response.get_data(as_text=True)) == ["You are logged out."]
    assert client.get("/settings/notifications").status_code == 302
    with site.app_context():
        assert stored(carlas) is not None


def test_a_forged_logout_removes_nothing(site, client, auth):
    with site.app_context():
        carlas = subscribe("carla", Browser(), "https://push.example.net/carla")
    auth.login("carla")
    response = client.post("/logout", data={"push_endpoint": "https://push.example.net/carla"})
    assert response.status_code == 400  # no CSRF token
    with site.app_context():
        assert stored(carlas) is not None


def test_every_page_loads_the_logout_script_from_our_origin(site, client, auth):
    auth.login("carla")
    html = client.get("/").get_data(as_text=True)
    assert '<script src="/static/js/push/logout.js"></script>' in html
    assert "data-push-logout" in html and "data-push-endpoint" in html
    script = client.get("/static/js/push/logout.js")
    assert script.status_code == 200 and "pushManager.getSubscription()" in script.get_data(as_text=True)


# -- the page and the service worker -----------------------------------------------------
def test_the_settings_tab_lists_this_accounts_browsers_and_removes_one(site, client, auth):
    chrome = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
    with site.app_context():
        phone = subscribe("carla", Browser(), "https://push.example.net/phone", user_agent=chrome)
        subscribe("gina", Browser(), "https://push.example.net/gina", user_agent="Gina's browser")
    assert client.get("/settings/notifications").status_code == 302  # log in first

    auth.login("carla")
    html = client.get("/settings/notifications").get_data(as_text=True)
    text = text_of(html)
    assert '<a href="/settings/notifications" aria-current="page">Notifications</a>' in html
    assert "Chrome on Android" in text and chrome in text
    assert "nothing delivered yet" in text
    assert "Gina's browser" not in text and "push.example.net/gina" not in html
    with site.app_context():
        assert f'data-public-key="{push.public_key()}"' in html
    assert 'data-sw-url="/sw.js"' in html

    form = find_form(html, f"/settings/notifications/{phone}/remove")
    removed = client.post(form.action, data=form.values(), follow_redirects=True)
    assert flashes(removed.get_data(as_text=True)) == [
        "That browser will no longer get notifications from LiveLite."
    ]
    assert "No browser gets push notifications from your account yet." in text_of(
        removed.get_data(as_text=True)
    )
    with site.app_context():
        assert stored(phone) is None


def test_the_settings_tab_refuses_to_remove_someone_elses_browser(site, client, auth):
    with site.app_context():
        ginas = subscribe("gina", Browser(), "https://push.example.net/gina")
        subscribe("carla", Browser(), "https://push.example.net/carla")
    auth.login("carla")
    html = client.get("/settings/notifications").get_data(as_text=True)
    assert f"/settings/notifications/{ginas}/remove" not in html
    response = client.post(
        f"/settings/notifications/{ginas}/remove",
        data={"csrf_token": meta_csrf_token(html)},
        follow_redirects=True,
    )
    assert flashes(response.get_data(as_text=True)) == ["No such browser among yours."]
    with site.app_context():
        assert stored(ginas) is not None


def test_the_service_worker_is_served_from_the_root_as_javascript(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    source = response.get_data(as_text=True)
    assert 'addEventListener("push"' in source and 'addEventListener("notificationclick"' in source
    for icon in ("/static/img/icon-192.png", "/static/img/badge-96.png"):
        assert icon in source
        assert client.get(icon).mimetype == "image/png"

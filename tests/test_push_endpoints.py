"""Web Push: which endpoints the server sends to.

Anyone logged in chooses a subscription's endpoint and the server POSTs to it, so with
the production default (``PUSH_ALLOW_PRIVATE_ENDPOINTS`` off) an endpoint must be https
on a name that resolves to public addresses only: refused with a 400 at subscribe time,
removed without sending at delivery time, and refused again on the connected socket.
No lookup here reaches a real DNS server (``FakeDNS``).
"""

from __future__ import annotations

import logging
import socket

import pytest
from factories import make_admin, make_user
from push_support import Browser, FakeDNS, PushService
from sqlalchemy import func, select

from livelite import webpush
from livelite.extensions import db
from livelite.models import Notification, PushSubscription, Role, User
from livelite.services import accounts, push


@pytest.fixture
def dns(monkeypatch):
    """No lookup leaves the machine: names resolve only to what a test says."""
    resolver = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return resolver


@pytest.fixture
def app(make_app, dns):
    """The production default: only https endpoints on public addresses. Pushes go out
    inside notify(), so a test sees their effect when it returns."""
    app = make_app(PUSH_SYNC=True)
    assert app.config["PUSH_ALLOW_PRIVATE_ENDPOINTS"] is False
    with app.app_context():
        make_admin()
        make_user("carla", display_name="Carla", role=Role.CREATOR)
        make_user("fred", display_name="Fred")
    return app


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.close()


def get(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def subscribe(username: str, endpoint: str) -> int:
    sub = Browser().subscription(endpoint)
    return push.subscribe(get(username), endpoint, sub["keys"]["p256dh"], sub["keys"]["auth"]).id


def stored(subscription_id: int) -> PushSubscription | None:
    db.session.expire_all()
    return db.session.get(PushSubscription, subscription_id)


PUBLIC_IP = "93.184.215.14"  # a global unicast address; nothing is ever sent to it here
NOT_HTTPS = "The endpoint must be an https URL: push services are only reached over https."
IP_LITERAL = "The endpoint must name its push service’s host, not an IP address."


def not_public(host: str) -> str:
    return f"The endpoint’s host {host} is not a public address: LiveLite only sends to public push services."


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://push.example.net/send/x", NOT_HTTPS),
        ("https://127.0.0.1/send/x", IP_LITERAL),
        ("https://10.0.0.1/send/x", IP_LITERAL),
        ("https://169.254.169.254/latest/meta-data", IP_LITERAL),
        ("https://[::1]/send/x", IP_LITERAL),
        ("https://[::ffff:10.0.0.1]/send/x", IP_LITERAL),
        ("https://2130706433/send/x", IP_LITERAL),  # 127.0.0.1 in inet_aton's decimal form
        ("https://0x7f.1/send/x", IP_LITERAL),
        (f"https://{PUBLIC_IP}/send/x", IP_LITERAL),  # push services have names
        ("https://localhost/send/x", not_public("localhost")),
        ("https://push.localhost:8443/send/x", not_public("push.localhost")),
        ("https://intranet.example.net/send/x", not_public("intranet.example.net")),
        ("https://mixed.example.net/send/x", not_public("mixed.example.net")),
        ("https://metadata.example.net/send/x", not_public("metadata.example.net")),
        ("https://v6.example.net/send/x", not_public("v6.example.net")),
        ("https://mapped.example.net/send/x", not_public("mapped.example.net")),
        ("https://multicast.example.net/send/x", not_public("multicast.example.net")),
        ("https://cgnat.example.net/send/x", not_public("cgnat.example.net")),
        ("https://nowhere.example.net/send/x", "The endpoint’s host nowhere.example.net could not be found."),
    ],
)
def test_endpoints_off_the_public_internet_are_refused_with_a_clear_400(
    app, client, auth, csrf_headers, dns, endpoint, message
):
    dns.answers.update(
        {
            "intranet.example.net": ["10.1.2.3"],
            # One private answer among public ones is enough to refuse.
            "mixed.example.net": [PUBLIC_IP, "192.168.1.20"],
            "metadata.example.net": ["169.254.169.254"],
            "v6.example.net": ["fd12:3456::1"],
            "mapped.example.net": ["::ffff:127.0.0.1"],
            "multicast.example.net": ["224.0.0.251"],
            "cgnat.example.net": ["100.64.0.7"],
            # Even if a DNS server answers for localhost, it is the loopback.
            "localhost": [PUBLIC_IP],
            "push.localhost": [PUBLIC_IP],
        }
    )
    auth.login("carla")
    response = client.post(
        "/api/v1/push/subscriptions", json=Browser().subscription(endpoint), headers=csrf_headers()
    )
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["message"] == message
    assert error["errors"] == {"endpoint": [message]}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 0


def test_real_push_services_on_public_names_are_accepted(app, client, auth, csrf_headers, dns):
    dns.answers.update(
        {
            "fcm.googleapis.com": ["142.250.74.42", "2a00:1450:4007:80e::200a"],
            "updates.push.services.mozilla.com": ["34.117.65.55"],
            "web.push.apple.com": ["17.188.128.1"],
        }
    )
    auth.login("carla")
    endpoints = [
        "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABn",
        "https://web.push.apple.com/QGuQyavXutnMH",
    ]
    for endpoint in endpoints:
        response = client.post(
            "/api/v1/push/subscriptions", json=Browser().subscription(endpoint), headers=csrf_headers()
        )
        assert response.status_code == 201, response.get_json()
    listed = client.get("/api/v1/push/subscriptions").get_json()
    assert sorted(item["endpoint"] for item in listed) == sorted(endpoints)
    # The names were really checked, through the resolver.
    assert {"fcm.googleapis.com", "updates.push.services.mozilla.com", "web.push.apple.com"} <= set(
        dns.lookups
    )


def test_the_site_can_allow_private_endpoints_for_a_push_service_of_its_own(make_app, dns):
    app = make_app(PUSH_ALLOW_PRIVATE_ENDPOINTS=True)
    with app.app_context():
        make_admin()
        make_user("carla")
        for endpoint in ("http://127.0.0.1:8080/push/x", "https://[::1]/push/y", "https://localhost/push/z"):
            subscribe("carla", endpoint)
        assert len(push.subscriptions_of(get("carla"))) == 3
    assert dns.lookups == []  # nothing to check, nothing looked up


def test_an_endpoint_that_now_resolves_privately_is_removed_at_send_time_without_sending(
    app, dns, monkeypatch, caplog
):
    dns.answers["push.example.net"] = [PUBLIC_IP]
    dns.answers["steady.example.net"] = [PUBLIC_IP]
    posted = []
    monkeypatch.setattr(webpush, "webpush", lambda info, *args, **kwargs: posted.append(info["endpoint"]))
    with app.app_context():
        moved = subscribe("carla", "https://push.example.net/send/laptop")
        steady = subscribe("carla", "https://steady.example.net/send/phone")
        # The name now points into the server's own network (DNS rebinding, or a record changed).
        dns.answers["push.example.net"] = ["10.0.0.5"]
        with caplog.at_level(logging.INFO, logger="livelite.push"):
            accounts.follow(get("fred"), get("carla"))

        assert stored(moved) is None
        assert posted == ["https://steady.example.net/send/phone"]
        assert stored(steady).last_success_at is not None
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 1
    assert (
        "push to https://push.example.net refused: push.example.net: not a public address (10.0.0.5)"
        in caplog.text
    )
    assert f"dropping push subscription {moved}" in caplog.text


def test_a_name_that_no_longer_resolves_counts_as_a_failure_not_a_removal(app, dns, monkeypatch):
    dns.answers["push.example.net"] = [PUBLIC_IP]
    posted = []
    monkeypatch.setattr(webpush, "webpush", lambda info, *args, **kwargs: posted.append(info["endpoint"]))
    with app.app_context():
        sub_id = subscribe("carla", "https://push.example.net/send/laptop")
        del dns.answers["push.example.net"]  # DNS is down for a moment
        accounts.follow(get("fred"), get("carla"))
        assert posted == []
        assert stored(sub_id).failures == 1


def test_the_connection_itself_must_reach_a_public_address(app, dns, push_service, caplog):
    """The name passes both checks, then resolves to 127.0.0.1 when the connection is
    made (DNS rebinding): the connected socket is refused before a byte is sent."""
    port = push_service.server.server_port
    dns.answers["rebind.example.net"] = [[PUBLIC_IP], [PUBLIC_IP], ["127.0.0.1"]]
    with app.app_context():
        sub_id = subscribe("carla", f"https://rebind.example.net:{port}/push/201/laptop")
        with caplog.at_level(logging.INFO, logger="livelite.push"):
            accounts.follow(get("fred"), get("carla"))
        assert dns.lookups == ["rebind.example.net"] * 3
        assert stored(sub_id) is None
    assert push_service.received == []
    assert "connected to 127.0.0.1" in caplog.text


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("0.0.0.0", False),  # noqa: S104  (an address to judge, not one to bind)
        ("255.255.255.255", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:a00:1::1", False),  # 6to4 wrapping 10.0.0.1
        ("2001:db8::1", False),
        ("not an address", False),
    ],
)
def test_public_addresses(address, public):
    assert webpush.public_address(address) is public

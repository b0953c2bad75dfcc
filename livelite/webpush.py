"""Web Push plumbing: the server's VAPID key, the sender, and the queue a background
task drains so that no request waits for a push service.

What goes to whom, and what a push service's answer does to a subscription, is
decided in ``services.push``; this module owns the key under the instance folder, the
HTTP call (pywebpush: aes128gcm payload encryption, RFC 8291; VAPID, RFC 8292) and the
worker.

An endpoint is a URL that anyone logged in can give us, and the server POSTs to it:
unless ``PUSH_ALLOW_PRIVATE_ENDPOINTS`` is on (tests, a laptop), only https URLs whose
host is a name resolving to public addresses are accepted (``check_endpoint``), checked
again just before each send, again on the connected socket itself (a name can resolve
differently the second time), and redirects are never followed. Real push services
(FCM, Mozilla autopush, Apple, Microsoft) all pass.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import re
import socket
import threading
from collections import deque
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from py_vapid import Vapid, VapidException
from pywebpush import WebPushException, webpush
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from livelite.config import create_once

log = logging.getLogger("livelite.push")

VAPID_KEY_FILE = "vapid_private_key.pem"
# RFC 8292: the subject is a contact for the push service's operators.
_SUBJECT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?)$", re.IGNORECASE)


class Outcome(Enum):
    """What one push service answered, as far as the subscription is concerned."""

    DELIVERED = "delivered"  # 201 (or any 2xx): the browser is alive
    GONE = "gone"  # 404 or 410: the browser unsubscribed, or the subscription expired
    FAILED = "failed"  # anything else, a refused connection or a timeout included
    REFUSED = "refused"  # not sent: the endpoint is not a public https address (EndpointRefused)


def load_vapid_key(instance_path: Path) -> ec.EllipticCurvePrivateKey:
    """Read the server's VAPID key (P-256, PEM) under the instance folder, creating it on first run.

    Every browser subscribes with its public half, so a new key would silently orphan
    every subscription: it is created once (``config.create_once``: processes starting
    together agree on one key), kept next to the secret key with mode 0600 and never
    regenerated.
    """
    key_file = instance_path / VAPID_KEY_FILE
    if not key_file.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        create_once(key_file, pem)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise RuntimeError(f"{key_file} is not a P-256 private key; move it away to get a new one")
    return key


def b64url(raw: bytes) -> str:
    """Base64url without padding, the form Web Push uses for keys."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def valid_subject(subject: str) -> bool:
    return bool(_SUBJECT.match(subject or ""))


def endpoint_origin(endpoint: str) -> str:
    """``scheme://host[:port]`` of an endpoint: the VAPID token's audience."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


# -- which endpoints the server may send to -------------------------------------------
class EndpointRefused(Exception):
    """The server must not send to this endpoint: not https, an IP address, or a host
    that is (or resolves to) a loopback, private, link-local, multicast, reserved or
    unspecified address. ``reason`` is one of the class's constants, ``host`` the host."""

    NOT_HTTPS = "not https"
    IP_LITERAL = "an IP address"
    NOT_PUBLIC = "not a public address"
    UNRESOLVED = "not found in DNS"

    def __init__(self, reason: str, host: str, detail: str = ""):
        super().__init__(f"{host}: {reason}{f' ({detail})' if detail else ''}")
        self.reason, self.host = reason, host


def public_address(address: str) -> bool:
    """True if ``address`` (an IP in text form) is a public unicast address.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo) must pass for it too:
    ``::ffff:127.0.0.1`` is the loopback.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    candidates = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        candidates += [x for x in (ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())) if x is not None]
    return all(
        x.is_global
        and not (
            x.is_loopback
            or x.is_private
            or x.is_link_local
            or x.is_multicast
            or x.is_reserved
            or x.is_unspecified
            or getattr(x, "is_site_local", False)
        )
        for x in candidates
    )


def _ip_literal(host: str) -> bool:
    """An IP address in any form the resolver takes as one: ``[::1]``, ``10.0.0.1``, but
    also ``2130706433`` or ``0x7f.1`` (inet_aton's forms, all 127.0.0.1)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
        return True
    except OSError:
        return False


def check_endpoint(endpoint: str) -> None:
    """Raise EndpointRefused unless ``endpoint`` is https on a name resolving only to
    public addresses. Resolves the name (``socket.getaddrinfo``): call it where a DNS
    lookup may be made, i.e. not while holding a database transaction open for long."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https":
        raise EndpointRefused(EndpointRefused.NOT_HTTPS, host)
    if _ip_literal(host):
        raise EndpointRefused(EndpointRefused.IP_LITERAL, host)
    # RFC 6761: localhost names are the loopback whatever DNS says.
    if host == "localhost" or host.endswith(".localhost"):
        raise EndpointRefused(EndpointRefused.NOT_PUBLIC, host, "localhost")
    try:
        found = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise EndpointRefused(EndpointRefused.UNRESOLVED, host, str(exc)) from exc
    addresses = sorted({info[4][0] for info in found})
    if not addresses:
        raise EndpointRefused(EndpointRefused.UNRESOLVED, host)
    private = [a for a in addresses if not public_address(a)]
    if private:
        # One private answer is enough: which one a connection gets is not ours to pick.
        raise EndpointRefused(EndpointRefused.NOT_PUBLIC, host, ", ".join(private))


class _PublicPeer:
    """Connection mixin: after connecting, refuse a peer that is not a public address.

    ``check_endpoint`` resolved the name a moment earlier, but the connection resolves
    it again, and a DNS server can answer differently the second time (DNS rebinding).
    The address actually connected to is the one that counts.
    """

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        address = sock.getpeername()[0]
        if not public_address(address):
            sock.close()
            raise EndpointRefused(EndpointRefused.NOT_PUBLIC, self.host, f"connected to {address}")
        return sock


class _PublicHTTPConnection(_PublicPeer, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeer, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    """Direct connections (not through a proxy) only to public addresses."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool, "https": _PublicHTTPSPool}


class PushSession(requests.Session):
    """The HTTP session pushes go out on: redirects are never followed.

    A push service answers a push itself; following a redirect would carry the POST to
    an address that no check has seen. A 3xx is returned as it is, and counts as a
    failed delivery.
    """

    def __init__(self, allow_private: bool):
        super().__init__()
        if not allow_private:
            adapter = _PublicOnlyAdapter()
            self.mount("https://", adapter)
            self.mount("http://", adapter)

    def get_redirect_target(self, resp):
        return None


class WebPush:
    """The app's push sender and its queue of notification ids waiting to be pushed.

    A request (or a job) only appends ids; the first append starts a background task
    (a green thread under eventlet), which sends until the queue is empty and ends.
    Ids still queued when the process stops are not pushed: the notification itself
    is stored and shown in the app, only the push is missed.
    """

    def __init__(self, app: Flask, private_key: ec.EllipticCurvePrivateKey):
        self.app = app
        self.subject = app.config["VAPID_SUBJECT"]
        self.ttl = int(app.config["PUSH_TTL_SECONDS"])
        self.timeout = float(app.config["PUSH_TIMEOUT_SECONDS"])
        self.allow_private = bool(app.config["PUSH_ALLOW_PRIVATE_ENDPOINTS"])
        self._vapid = Vapid(private_key)
        self.public_key = b64url(
            private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
        self._pending: deque[int] = deque()
        self._lock = threading.Lock()
        self._running = False
        self._idle = threading.Event()
        self._idle.set()

    # -- sending -------------------------------------------------------------------
    def session(self) -> PushSession:
        """A session for a batch of pushes (connections to one push service are reused)."""
        return PushSession(self.allow_private)

    def send(self, subscription: dict, data: str, session: PushSession | None = None) -> Outcome:
        """Encrypt ``data`` for one browser and POST it to its push service.

        Unless private endpoints are allowed, the endpoint is checked first (its name
        may resolve elsewhere than when it was subscribed): a refused one is not sent
        to and comes back as REFUSED; a name that does not resolve is a FAILED delivery,
        as DNS may be down for a moment.
        """
        origin = endpoint_origin(subscription["endpoint"])
        if not self.allow_private:
            try:
                check_endpoint(subscription["endpoint"])
            except EndpointRefused as exc:
                if exc.reason == EndpointRefused.UNRESOLVED:
                    log.warning("push to %s failed: %s", origin, exc)
                    return Outcome.FAILED
                log.warning("push to %s refused: %s", origin, exc)
                return Outcome.REFUSED
        if session is not None:
            return self._post(subscription, data, session, origin)
        with self.session() as own:
            return self._post(subscription, data, own, origin)

    def _post(self, subscription: dict, data: str, session: PushSession, origin: str) -> Outcome:
        try:
            webpush(
                subscription,
                data,
                vapid_private_key=self._vapid,
                # A fresh dict each time: pywebpush writes the audience and expiry into it.
                vapid_claims={"sub": self.subject},
                ttl=self.ttl,
                timeout=self.timeout,
                requests_session=session,
            )
        except WebPushException as exc:
            status = exc.status_code
            if status in (404, 410):
                log.info("push subscription gone (%s) at %s", status, origin)
                return Outcome.GONE
            log.warning("push to %s failed: %s", origin, status or exc.message)
            return Outcome.FAILED
        except EndpointRefused as exc:  # the connection itself reached a private address
            log.warning("push to %s refused: %s", origin, exc)
            return Outcome.REFUSED
        except (requests.RequestException, VapidException) as exc:
            log.warning("push to %s failed: %s", origin, exc)
            return Outcome.FAILED
        return Outcome.DELIVERED

    # -- the queue -----------------------------------------------------------------
    def put(self, notification_ids: Iterable[int]) -> None:
        """Queue notifications; start the background task unless it is running."""
        with self._lock:
            self._pending.extend(notification_ids)
            if self._running:
                return
            self._running = True
            self._idle.clear()
        from livelite.extensions import socketio

        socketio.start_background_task(self._run)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the background task has sent everything queued (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        from livelite.services import push

        while True:
            with self._lock:
                if not self._pending:
                    self._running = False
                    self._idle.set()
                    return
                ids = list(self._pending)
                self._pending.clear()
            try:
                with self.app.app_context():
                    push.deliver(ids)
            except Exception:
                log.exception("web push delivery of notifications %s failed", ids)


def init_app(app: Flask) -> None:
    """Load (or create) the VAPID key and attach the sender as ``app.extensions["livelite.push"]``."""
    subject = app.config["VAPID_SUBJECT"]
    if not valid_subject(subject):
        raise RuntimeError(
            f"VAPID_SUBJECT must be a mailto: address or an https: URL, not {subject!r} "
            "(set LIVELITE_VAPID_SUBJECT)"
        )
    app.extensions["livelite.push"] = WebPush(app, load_vapid_key(Path(app.instance_path)))

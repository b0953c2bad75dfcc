"""Webhooks: admins register URLs that hear about the site's events (docs/webhooks.md).

An event becomes one delivery row per active webhook subscribed to it, written by
``enqueue`` after the change that caused it is committed (so nothing rolled back is
ever announced). The body is built once and stored; every attempt posts those exact
bytes, signed with the webhook's current secret. The worker (``Worker``, started by
the server beside the jobs so a slow receiver never holds them up) sends what is due
through ``deliver_due``; a failed attempt is tried again after a growing delay with
jitter, until ``MAX_ATTEMPTS``. Tests call ``deliver_due(now=...)`` directly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import requests
from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from livelite.extensions import db
from livelite.models import User
from livelite.models.base import utcnow
from livelite.models.webhooks import DeliveryStatus, Webhook, WebhookDelivery, new_webhook_secret
from livelite.services.admin import require_admin
from livelite.services.errors import NotFound, ValidationFailed

log = logging.getLogger("livelite.webhooks")

# The events a webhook may subscribe to, in the order forms list them.
EVENTS = {
    "live.started": _l("A live starts"),
    "live.ended": _l("A live ends"),
    "event.created": _l("An event is scheduled"),
    "gift.received": _l("A gift is sent in a live"),
}
# "Send a test": sent to one webhook on demand, whatever it subscribes to.
PING = "ping"

URL_MAX = 500
DESCRIPTION_MAX = 200
# Seconds to wait after each failed attempt: 6 attempts over about 7 hours.
RETRY_DELAYS = (30, 120, 600, 3600, 6 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1  # each delay is moved by up to ±10 %, so failed receivers are not hit in step
RETENTION_DAYS = 30
USER_AGENT = "LiveLite-Webhooks/1"
ERROR_MAX = 300
# How long a delivery being sent is kept from other senders (timeout plus a margin):
# after a crash mid-send, it is tried again once this has passed.
CLAIM_MARGIN_SECONDS = 60
BATCH = 50


def event_label(name: str) -> str:
    if name == PING:
        return _("Test (ping)")
    return str(EVENTS.get(name, name))


# -- managing webhooks ------------------------------------------------------------
def list_webhooks(actor: User) -> list[Webhook]:
    require_admin(actor)
    return list(db.session.scalars(select(Webhook).order_by(Webhook.created_at.desc(), Webhook.id.desc())))


def get_webhook(actor: User, webhook_id: int) -> Webhook:
    require_admin(actor)
    webhook = db.session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(_("No such webhook."))
    return webhook


def _checked_url(url: object, errors: dict) -> str:
    url = (url if isinstance(url, str) else "").strip()
    if not url:
        errors["url"] = [_("Enter the URL that receives the events.")]
        return url
    if len(url) > URL_MAX:
        errors["url"] = [_("URLs have at most %(n)s characters.", n=URL_MAX)]
        return url
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        errors["url"] = [_("Enter a full http:// or https:// address, like https://example.com/hooks.")]
    elif any(ch.isspace() for ch in url):
        errors["url"] = [_("A URL cannot contain spaces.")]
    elif parts.username is not None or parts.password is not None:
        errors["url"] = [_("Leave the user name and password out of the URL: check the signature instead.")]
    return url


def _checked_events(events: object, errors: dict) -> str:
    if isinstance(events, str):
        events = [e for e in events.split(",") if e]
    chosen = set(events or [])
    if not chosen:
        errors["events"] = [_("Choose at least one event.")]
    elif chosen - set(EVENTS):
        errors["events"] = [_("Choose among: %(events)s.", events=", ".join(EVENTS))]
    return ",".join(name for name in EVENTS if name in chosen)


def _checked_description(description: object, errors: dict) -> str:
    description = (description if isinstance(description, str) else "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [_("Descriptions have at most %(n)s characters.", n=DESCRIPTION_MAX)]
    return description


def create_webhook(actor: User, *, url: str, events, description: str = "", active: bool = True) -> Webhook:
    """Register a URL for some events; its signing secret is made here."""
    require_admin(actor)
    errors: dict = {}
    url = _checked_url(url, errors)
    events = _checked_events(events, errors)
    description = _checked_description(description, errors)
    if errors:
        raise ValidationFailed(errors)
    webhook = Webhook(
        url=url,
        events=events,
        description=description,
        active=bool(active),
        secret=new_webhook_secret(),
        created_by_id=actor.id,
    )
    db.session.add(webhook)
    db.session.commit()
    return webhook


def update_webhook(actor: User, webhook_id: int, **changes) -> Webhook:
    """Change any of url, events, description, active. Deliveries already queued keep
    their body; they go to the webhook's URL as it is when they are sent."""
    webhook = get_webhook(actor, webhook_id)
    errors: dict = {}
    values = {}
    if "url" in changes:
        values["url"] = _checked_url(changes["url"], errors)
    if "events" in changes:
        values["events"] = _checked_events(changes["events"], errors)
    if "description" in changes:
        values["description"] = _checked_description(changes["description"], errors)
    if "active" in changes:
        values["active"] = bool(changes["active"])
    if errors:
        raise ValidationFailed(errors)
    for name, value in values.items():
        setattr(webhook, name, value)
    db.session.commit()
    if values.get("active"):
        _wake()  # deliveries that waited while it was off
    return webhook


def delete_webhook(actor: User, webhook_id: int) -> None:
    """Remove a webhook with its delivery log."""
    webhook = get_webhook(actor, webhook_id)
    db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    db.session.delete(webhook)
    db.session.commit()


def rotate_secret(actor: User, webhook_id: int) -> Webhook:
    """A new signing secret, used from the next attempt on (queued ones included)."""
    webhook = get_webhook(actor, webhook_id)
    webhook.secret = new_webhook_secret()
    db.session.commit()
    return webhook


def deliveries_query(actor: User, webhook: Webhook):
    """The webhook's deliveries, newest first (for pagination)."""
    require_admin(actor)
    return (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    )


def last_deliveries(webhook_ids: list[int]) -> dict[int, WebhookDelivery]:
    """Each webhook's newest delivery, for the list page."""
    if not webhook_ids:
        return {}
    newest = (
        select(func.max(WebhookDelivery.id))
        .where(WebhookDelivery.webhook_id.in_(webhook_ids))
        .group_by(WebhookDelivery.webhook_id)
    )
    rows = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(newest)))
    return {row.webhook_id: row for row in rows}


def send_test(actor: User, webhook_id: int, *, now: datetime | None = None) -> WebhookDelivery:
    """Queue a ``ping`` to this webhook only (sent even while it is disabled)."""
    webhook = get_webhook(actor, webhook_id)
    now = now or utcnow()
    body = _body(PING, {"webhook_id": webhook.id, "message": "Hello from LiveLite: this webhook works."}, now)
    delivery = WebhookDelivery(
        webhook_id=webhook.id, event=PING, payload=body, created_at=now, next_attempt_at=now
    )
    db.session.add(delivery)
    db.session.commit()
    _wake()
    return delivery


def redeliver(actor: User, delivery_id: int, *, now: datetime | None = None) -> WebhookDelivery:
    """Send a delivery's body again as a new delivery (same event id, so a receiver
    that already handled it can tell)."""
    require_admin(actor)
    old = db.session.get(WebhookDelivery, delivery_id)
    if old is None:
        raise NotFound(_("No such delivery."))
    now = now or utcnow()
    delivery = WebhookDelivery(
        webhook_id=old.webhook_id, event=old.event, payload=old.payload, created_at=now, next_attempt_at=now
    )
    db.session.add(delivery)
    db.session.commit()
    _wake()
    return delivery


# -- events -------------------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _body(event_type: str, data: dict, now: datetime) -> str:
    payload = {"id": str(uuid.uuid4()), "type": event_type, "created_at": _iso(now), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def enqueue(event_type: str, data: dict, *, now: datetime | None = None) -> list[WebhookDelivery]:
    """One delivery per active webhook subscribed to ``event_type``, all with the same
    body. Call it after the change it announces is committed."""
    webhooks = [
        hook
        for hook in db.session.scalars(select(Webhook).where(Webhook.active.is_(True)))
        if event_type in hook.event_list
    ]
    if not webhooks:
        return []
    now = now or utcnow()
    body = _body(event_type, data, now)
    rows = [
        WebhookDelivery(
            webhook_id=hook.id, event=event_type, payload=body, created_at=now, next_attempt_at=now
        )
        for hook in webhooks
    ]
    db.session.add_all(rows)
    db.session.commit()
    _wake()
    return rows


def _announce(event_type: str, build) -> None:
    """Enqueue without ever failing the action that caused the event: that change is
    committed already, and its author must not see an error for a side effect."""
    try:
        enqueue(event_type, build())
    except Exception:
        log.exception("could not queue the %s webhooks", event_type)
        db.session.rollback()


def public_url() -> str:
    """The site's address as the outside world reaches it (PUBLIC_URL, else HOST:PORT)."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    return f"http://{current_app.config['HOST']}:{current_app.config['PORT']}"


def absolute_url(endpoint: str, **values) -> str:
    """url_for's address under public_url(), with or without a request."""
    parts = urlsplit(public_url())
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


def _live_data(live) -> dict:
    return {
        "id": live.id,
        "title": live.title,
        "visibility": live.visibility.value,
        "host": _person(live.host),
        "started_at": _iso(live.started_at),
        "url": absolute_url("lives.watch", live_id=live.id),
    }


def live_started(live) -> None:
    """A live went on air (either way of starting one)."""
    _announce("live.started", lambda: _live_data(live))


def live_ended(live) -> None:
    """A live ended, for whatever reason (``end_reason``: host, admin, publisher_lost…)."""
    _announce(
        "live.ended",
        lambda: {
            **_live_data(live),
            "ended_at": _iso(live.ended_at),
            "end_reason": live.end_reason or "host",
        },
    )


def event_created(event) -> None:
    """An event was scheduled."""
    _announce(
        "event.created",
        lambda: {
            "id": event.id,
            "title": event.title,
            "starts_at": _iso(event.starts_at),
            "duration_minutes": event.duration_minutes,
            "creator": _person(event.creator),
            "url": absolute_url("events.show", event_id=event.id),
        },
    )


def gift_received(send) -> None:
    """A gift was sent in a live (a new send: a replay of the same key is not one)."""
    _announce(
        "gift.received",
        lambda: {
            "id": send.id,
            "live_id": send.live_id,
            "gift": {"id": send.gift.id, "name": send.gift.name},
            "quantity": send.quantity,
            "coins": send.coins,
            "diamonds": send.diamonds,
            "sender": _person(send.sender),
            "receiver": _person(send.receiver),
            "created_at": _iso(send.created_at),
        },
    )


# -- delivery -----------------------------------------------------------------------
def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-LiveLite-Signature value: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt (with jitter)."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))  # noqa: S311 - not a secret


def _due(now: datetime):
    # A disabled webhook's deliveries wait until it is enabled again; a test ping goes
    # out anyway (it is how an admin checks a URL before turning the webhook on).
    return (
        select(WebhookDelivery.id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            (Webhook.active.is_(True)) | (WebhookDelivery.event == PING),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
    )


def deliver_due(now: datetime | None = None, limit: int = BATCH) -> int:
    """Attempt every delivery due at ``now`` (at most ``limit``); returns how many were
    attempted. Each is claimed first, so two senders never post the same one."""
    now = now or utcnow()
    timeout = float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    ids = list(db.session.scalars(_due(now).limit(limit)))
    db.session.commit()
    attempted = 0
    for delivery_id in ids:
        claimed = db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + timedelta(seconds=timeout + CLAIM_MARGIN_SECONDS))
        ).rowcount
        db.session.commit()
        if not claimed:
            continue
        delivery = db.session.get(WebhookDelivery, delivery_id)
        url, secret = delivery.webhook.url, delivery.webhook.secret
        event, body = delivery.event, delivery.payload.encode()
        # No transaction stays open while the receiver takes its time.
        db.session.commit()
        code, error = _post(url, secret, event, delivery_id, body, timeout)
        _record(delivery_id, code, error, now)
        attempted += 1
    return attempted


class _NoRedirects(requests.Session):
    """A 3xx is the receiver's answer, not somewhere else to post the event."""

    def get_redirect_target(self, resp):
        return None


def _post(url: str, secret: str, event: str, delivery_id: int, body: bytes, timeout: float):
    """POST the body once; returns (status code or None, short error or None)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-LiveLite-Event": event,
        "X-LiveLite-Delivery": str(delivery_id),
        "X-LiveLite-Signature": signature(secret, int(time.time()), body),
    }
    try:
        with _NoRedirects() as session:
            session.trust_env = False  # the URL is posted to as the admin typed it
            response = session.post(url, data=body, headers=headers, timeout=timeout, stream=True)
            response.close()  # the answer's body is of no use; do not wait for it
    except requests.Timeout:
        return None, f"No answer within {timeout:g} s."
    except requests.ConnectionError as exc:
        return None, _connection_error(exc)
    except requests.RequestException as exc:
        return None, _clip(f"{type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return response.status_code, None
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")
        return response.status_code, _clip(f"Redirect not followed (to {location}).")
    return response.status_code, f"HTTP {response.status_code} {response.reason or ''}".strip()


def _connection_error(exc: Exception) -> str:
    # requests wraps urllib3's error, which wraps the socket's: its text names the cause.
    text = str(exc)
    if "Connection refused" in text or "Errno 111" in text:
        return "Connection refused."
    if "NameResolutionError" in text or "Failed to resolve" in text or "Name or service not known" in text:
        return "The host name could not be resolved (DNS)."
    return _clip(f"Connection failed: {text}")


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


def _record(delivery_id: int, code: int | None, error: str | None, now: datetime) -> None:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:  # its webhook was deleted while it was being sent
        return
    delivery.attempts += 1
    delivery.last_status_code = code
    delivery.last_error = error
    if error is None:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    db.session.commit()


def next_due_in(now: datetime | None = None) -> float | None:
    """Seconds until the next delivery is due (0 if one is due now), None if none waits."""
    now = now or utcnow()
    first = db.session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at))
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            (Webhook.active.is_(True)) | (WebhookDelivery.event == PING),
        )
    )
    db.session.commit()
    if first is None:
        return None
    return max(0.0, (first - now).total_seconds())


def prune(now: datetime | None = None) -> int:
    """Deliveries older than RETENTION_DAYS leave the log (the job "webhooks")."""
    cutoff = (now or utcnow()) - timedelta(days=RETENTION_DAYS)
    removed = db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.created_at < cutoff)).rowcount
    db.session.commit()
    return removed


# -- the worker ---------------------------------------------------------------------
class Worker:
    """One background task posting due deliveries, beside (not inside) the jobs loop.

    It sleeps until the next delivery is due (at most ``IDLE_SECONDS``), and ``wake``
    (called by every enqueue) cuts the sleep short. Deliveries left pending by a stopped
    process are simply due at the next start.
    """

    IDLE_SECONDS = 60.0

    def __init__(self, app: Flask):
        self.app = app
        self.wakeup = threading.Event()
        self.started = False
        self.stopping = False

    def start(self, spawn) -> None:
        """``spawn(func)`` starts a background task (socketio.start_background_task)."""
        if self.started:
            return
        self.started = True
        self.stopping = False
        spawn(self._run)

    def wake(self) -> None:
        if self.started:
            self.wakeup.set()

    def stop(self) -> None:
        self.stopping = True
        self.started = False
        self.wakeup.set()

    def _run(self) -> None:
        while not self.stopping:
            self.wakeup.clear()
            wait = self.IDLE_SECONDS
            try:
                with self.app.app_context():
                    deliver_due()
                    due_in = next_due_in()
                    db.session.remove()
                if due_in is not None:
                    wait = min(wait, due_in)
            except Exception:
                log.exception("webhook delivery failed")
            if wait > 0 and not self.stopping:
                self.wakeup.wait(wait)


def worker_of(app: Flask) -> Worker:
    worker = app.extensions.get("livelite.webhooks")
    if worker is None:
        worker = app.extensions["livelite.webhooks"] = Worker(app)
    return worker


def _wake() -> None:
    worker = current_app.extensions.get("livelite.webhooks")
    if worker is not None and worker.started:
        worker.wake()
        return
    from livelite import cluster

    shared = cluster.of(current_app)
    if shared.shared and not shared.ingest:
        # The sender runs in the ingest process; without it, it wakes on its own within
        # IDLE_SECONDS, or finds the delivery when it starts.
        try:
            shared.to_ingest("webhooks_wake")
        except cluster.IngestUnavailable:
            pass

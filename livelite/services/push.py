"""Web Push: the browsers a person subscribed, and what each notification sends them.

A browser that says yes gives us its PushSubscription: the push service's endpoint
and two keys (RFC 8291). Every notification stored by ``services.notifications`` is
then pushed to each of its person's browsers, in their language, encrypted for the
browser and signed with the server's VAPID key (``livelite.webpush``). The push goes
out from a background task (``PUSH_SYNC`` sends it at once instead, for tests). A push
service's answer decides the subscription's fate: success marks it alive, 404 or 410
(the browser unsubscribed, or its subscription expired) removes it, and anything else
counts as a failure: ``PUSH_MAX_FAILURES`` in a row remove it.

Unless ``PUSH_ALLOW_PRIVATE_ENDPOINTS`` is on, an endpoint must be https on a public
address (``webpush.check_endpoint``): refused with a 400 when a browser subscribes, and
removed without being sent to when it no longer passes at delivery time.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from contextlib import contextmanager
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from livelite.extensions import db
from livelite.models import Notification, PushSubscription, User
from livelite.models.base import utcnow
from livelite.services.errors import DomainError, NotFound
from livelite.webpush import EndpointRefused, Outcome, WebPush, check_endpoint

log = logging.getLogger("livelite.push")

MAX_ENDPOINT_LENGTH = 1024
P256DH_BYTES = 65  # an uncompressed P-256 point: 0x04, x, y
AUTH_BYTES = 16
# A person rarely has more browsers than this; beyond it the oldest one makes room,
# so nobody can make one notification fan out into thousands of requests.
MAX_PER_USER = 20
# Push services take about 4 kB of encrypted payload; the sentence is clipped well under.
MAX_BODY_CHARS = 500
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def sender() -> WebPush:
    return current_app.extensions["livelite.push"]


def public_key() -> str:
    """The applicationServerKey browsers subscribe with (base64url, uncompressed point)."""
    return sender().public_key


# -- subscriptions -------------------------------------------------------------------
def _decode_key(value: object, size: int) -> bytes | None:
    """Base64url (padded or not) of exactly ``size`` bytes, else None."""
    if not isinstance(value, str) or not _BASE64URL.match(value):
        return None
    bare = value.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def _valid_endpoint(endpoint: object) -> bool:
    if not isinstance(endpoint, str) or len(endpoint) > MAX_ENDPOINT_LENGTH or re.search(r"\s", endpoint):
        return False
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("https", "http") and bool(parts.hostname) and not parts.username


def _refused_message(exc: EndpointRefused) -> str:
    if exc.reason == EndpointRefused.NOT_HTTPS:
        return _("The endpoint must be an https URL: push services are only reached over https.")
    if exc.reason == EndpointRefused.IP_LITERAL:
        return _("The endpoint must name its push service’s host, not an IP address.")
    if exc.reason == EndpointRefused.UNRESOLVED:
        return _("The endpoint’s host %(host)s could not be found.", host=exc.host)
    return _(
        "The endpoint’s host %(host)s is not a public address: LiveLite only sends to public push services.",
        host=exc.host,
    )


def _normalise(endpoint: object, p256dh: object, auth: object) -> tuple[str, str, str]:
    """Check a PushSubscription's parts; return its keys without padding."""
    if not _valid_endpoint(endpoint):
        raise DomainError(
            _(
                "The endpoint must be an https or http URL of at most %(max)s characters.",
                max=MAX_ENDPOINT_LENGTH,
            ),
            field="endpoint",
        )
    if not current_app.config["PUSH_ALLOW_PRIVATE_ENDPOINTS"]:
        # Anyone logged in chooses this URL and the server POSTs to it: never into our
        # own network (delivery checks it again, as the name may resolve elsewhere later).
        try:
            check_endpoint(endpoint)
        except EndpointRefused as exc:
            raise DomainError(_refused_message(exc), field="endpoint") from exc
    point = _decode_key(p256dh, P256DH_BYTES)
    valid_point = point is not None
    if valid_point:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError:
            valid_point = False
    if not valid_point:
        raise DomainError(
            _("keys.p256dh must be the browser’s P-256 public key: 65 bytes, base64url-encoded."),
            field="keys.p256dh",
        )
    secret = _decode_key(auth, AUTH_BYTES)
    if secret is None:
        raise DomainError(
            _("keys.auth must be the browser’s 16-byte authentication secret, base64url-encoded."),
            field="keys.auth",
        )
    return endpoint, p256dh.rstrip("="), auth.rstrip("=")


def subscribe(
    user: User,
    endpoint: str,
    p256dh: str,
    auth: str,
    *,
    user_agent: str = "",
    locale: str | None = None,
) -> PushSubscription:
    """Store (or refresh) a browser's subscription for ``user``.

    An endpoint already stored moves to ``user``: it is one browser, and whoever
    subscribed it last is the person using it now.
    """
    endpoint, p256dh, auth = _normalise(endpoint, p256dh, auth)
    # Read before a half-filled row is in the session: an expired ``user`` (a commit
    # earlier in the request) reloads, and that query would flush the row unfilled.
    user_id = user.id
    row = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if row is None:
        row = PushSubscription(endpoint=endpoint)
        db.session.add(row)
    if row.user_id != user_id:
        row.user_id, row.created_at, row.last_success_at = user_id, utcnow(), None
    row.p256dh, row.auth = p256dh, auth
    row.user_agent = (user_agent or "")[:255]
    row.locale = locale if locale in current_app.config["LANGUAGES"] else None
    row.failures = 0
    db.session.flush()
    others = subscriptions_of(user)[MAX_PER_USER:]
    for old in others:
        if old.id != row.id:
            db.session.delete(old)
    db.session.commit()
    return row


def subscriptions_of(user: User) -> list[PushSubscription]:
    """The person's browsers, newest first."""
    return list(
        db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.user_id == user.id)
            .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())
        )
    )


def unsubscribe(user: User, *, subscription_id: int | None = None, endpoint: str | None = None) -> None:
    """Forget one of the person's browsers, by id or endpoint; someone else's is NotFound."""
    if subscription_id is not None:
        row = db.session.get(PushSubscription, subscription_id)
    else:
        row = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if row is None or row.user_id != user.id:
        raise NotFound(_("No such browser among yours."))
    db.session.delete(row)
    db.session.commit()


def forget_browser(user: User, endpoint: str) -> bool:
    """Remove ``user``'s subscription with this endpoint, if there is one; True if removed.

    Called when the person logs out from that browser: it must not keep getting their
    notifications. An endpoint that is someone else's (or nobody's) is left alone.
    """
    if not endpoint:
        return False
    try:
        unsubscribe(user, endpoint=endpoint)
    except NotFound:
        return False
    return True


def browser_label(user_agent: str) -> str:
    """“Firefox on Linux” from a User-Agent header, for the list of browsers."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("SamsungBrowser/", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("Chromium/", "Chromium"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        None,
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iOS"),
                ("iPad", "iPadOS"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        None,
    )
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown browser")


# -- delivery ------------------------------------------------------------------------
def notification_stored(dedupe_key: str, user_ids: list[int]) -> None:
    """Called by ``notifications.notify`` after its commit: queue the new notifications
    of the people who have a subscribed browser. Never raises into the caller."""
    if not user_ids:
        return
    try:
        ids = list(
            db.session.scalars(
                select(Notification.id)
                .join(PushSubscription, PushSubscription.user_id == Notification.user_id)
                .where(Notification.dedupe_key == dedupe_key, Notification.user_id.in_(user_ids))
                .distinct()
            )
        )
        if not ids:
            return
        if current_app.config["PUSH_SYNC"]:
            deliver(ids)
        else:
            sender().put(ids)
    except Exception:
        log.exception("web push for %s could not be queued", dedupe_key)


def deliver(notification_ids: list[int]) -> None:
    """Push each notification to its person's browsers; record what each push service said."""
    if not notification_ids:
        return
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    work: list[tuple[int, dict, str]] = []
    rows = list(db.session.scalars(select(Notification).where(Notification.id.in_(notification_ids))))
    for row in rows:
        person = db.session.get(User, row.user_id)
        if person is None:
            continue
        messages: dict[str, str] = {}
        for sub in subscriptions_of(person):
            # Their own choice of language first, then the page's when they subscribed.
            locale = next((x for x in (person.locale, sub.locale) if x in languages), default)
            if locale not in messages:
                try:
                    messages[locale] = json.dumps(message(row, locale))
                except Exception:  # one bad notification must not hold up the others
                    log.exception("no push message for notification %s", row.id)
                    break
            info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
            work.append((sub.id, info, messages[locale]))
    if not work:
        return
    with sender().session() as session:
        for sub_id, info, data in work:
            try:
                outcome = sender().send(info, data, session)
            except Exception:
                log.exception("web push to subscription %s failed", sub_id)
                continue
            _record(sub_id, outcome)


def message(row: Notification, locale: str) -> dict:
    """The push payload: {title, body, url, tag}; the body is the notification's sentence."""
    from livelite.blueprints.notifications.routes import target_url
    from livelite.services.notifications import describe

    with _url_context(), force_locale(locale):
        body = describe(row)
        url = target_url(row)
    if len(body) > MAX_BODY_CHARS:
        body = body[: MAX_BODY_CHARS - 1].rstrip() + "…"
    # The tag is the dedupe key: a browser shows one notification per piece of news.
    return {"title": "LiveLite", "body": body, "url": url, "tag": row.dedupe_key}


@contextmanager
def _url_context():
    """url_for needs a request; a background task has none, so it borrows an empty one
    (the URLs in a push are paths, resolved by the service worker against our origin)."""
    if has_request_context():
        yield
    else:
        with current_app.test_request_context():
            yield


def _record(subscription_id: int, outcome: Outcome) -> None:
    row = db.session.get(PushSubscription, subscription_id)
    if row is None:  # removed while the push was on its way
        return
    if outcome is Outcome.DELIVERED:
        row.last_success_at = utcnow()
        row.failures = 0
    elif outcome is Outcome.GONE:
        db.session.delete(row)
    elif outcome is Outcome.REFUSED:
        # Its host is (now) a private address: nothing was sent, and nothing ever will be.
        log.warning("dropping push subscription %s: its endpoint is not a public https address", row.id)
        db.session.delete(row)
    else:
        row.failures += 1
        if row.failures >= int(current_app.config["PUSH_MAX_FAILURES"]):
            log.info("dropping push subscription %s after %s failures", row.id, row.failures)
            db.session.delete(row)
    db.session.commit()

"""The Prometheus scrape endpoint. Not public: a 404 to anyone not allowed, so that its
existence is not advertised."""

from __future__ import annotations

import hmac
import ipaddress

from flask import abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from livelite import metrics
from livelite.blueprints.metrics import bp
from livelite.extensions import csrf, limiter

# Headers a reverse proxy adds. Without PROXY_FIX the address we see is the proxy's
# (often 127.0.0.1), so a request carrying one of these came from somewhere unknown.
FORWARDED_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


@bp.route("/metrics")
@limiter.exempt
@csrf.exempt
def scrape():
    """The metrics in Prometheus' text format, for a scraper on this machine or one
    holding ``METRICS_TOKEN``; computed at each request (livelite.metrics)."""
    if not (_from_this_machine() or _has_token()):
        abort(404)
    body = generate_latest(metrics.registry_of(current_app))
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}


def _from_this_machine() -> bool:
    """A loopback client: Prometheus on this host, or through a proxy whose
    X-Forwarded-For we trust (PROXY_FIX) that says so."""
    if not current_app.config["PROXY_FIX"] and any(name in request.headers for name in FORWARDED_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _has_token() -> bool:
    """``Authorization: Bearer <METRICS_TOKEN>``, when a token is configured."""
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # The variable is read as JSON when it parses, so an all-digit token is an int.
    return hmac.compare_digest(given.strip().encode(), str(expected).encode())

"""What the authorisation walks share (tests/test_admin_access.py for /admin and
/api/v1/admin, tests/test_authz_matrix.py for the rest): the database as text, to see
that a refused request changed nothing, and a request sent with a valid CSRF token so
that only the permission check can refuse it."""

from __future__ import annotations

import re

from pages import meta_csrf_token

from livelite.extensions import db

SKIP_METHODS = {"HEAD", "OPTIONS"}


def fill_rule(rule: str, values: dict | None = None) -> str:
    """The URL of ``rule`` with each ``<converter:name>`` replaced by ``values[name]``,
    or by 1 (numbers) or x (text) for the names ``values`` does not give."""
    values = values or {}

    def replace(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        if name in values:
            return str(values[name])
        return "1" if converter in ("int", "float") else "x"

    return re.sub(r"<(?:(\w+):)?(\w+)>", replace, rule)


def fingerprint(app) -> str:
    """Every row of every table as text: any change made by a request shows."""
    lines = []
    with app.app_context(), db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            lines += [f"{table.name} {tuple(row)!r}" for row in conn.execute(table.select().order_by(*order))]
    return "\n".join(lines)


def csrf_token(client) -> str:
    return meta_csrf_token(client.get("/").get_data(as_text=True))


def send(client, method: str, url: str, token: str, body: dict | None = None):
    """Send with a valid CSRF token (form field and header), so that only the
    permission check can refuse: ``body`` as JSON under /api/, as form fields elsewhere."""
    kwargs = {"headers": {"X-CSRFToken": token, "Accept": "text/html"}}
    if method != "GET":
        if url.startswith("/api/"):
            kwargs["json"] = body if body is not None else {}
        else:
            kwargs["data"] = {"csrf_token": token, **(body or {})}
    return client.open(url, method=method, **kwargs)

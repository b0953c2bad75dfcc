"""Reading pages the way a browser does: forms with their hidden CSRF field, field
errors next to inputs, flash messages. Standard library only (html.parser)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit


@dataclass
class HtmlForm:
    action: str | None
    method: str
    enctype: str
    fields: list[tuple[str, str]] = field(default_factory=list)

    def values(self) -> dict[str, str | list[str]]:
        """What a browser would send untouched: hidden and filled fields, checked boxes."""
        out: dict[str, str | list[str]] = {}
        for name, value in self.fields:
            if name in out:
                previous = out[name]
                out[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                out[name] = value
        return out


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._form: HtmlForm | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "meta" and "name" in a:
            self.meta[a["name"]] = a.get("content", "")
        if tag == "form":
            self._form = HtmlForm(
                action=a.get("action"),
                method=a.get("method", "get").lower(),
                enctype=a.get("enctype", "application/x-www-form-urlencoded"),
            )
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.fields.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self._form.fields.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a and not self._select_chosen:
                self._form.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select and self._form is not None:
            if not self._select_chosen and self._select_first is not None:
                self._form.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea and self._form is not None:
            self._form.fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def _parse(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


def find_form(html: str, action: str | None = None) -> HtmlForm:
    """The POST form whose action has this path (None: the form posting to its own page)."""
    posts = [f for f in _parse(html).forms if f.method == "post"]
    for form in posts:
        target = urlsplit(form.action).path if form.action else None
        if target == action:
            return form
    actions = [f.action for f in posts]
    raise AssertionError(f"no POST form with action {action!r} on the page; found {actions}")


def meta_csrf_token(html: str) -> str:
    token = _parse(html).meta.get("csrf-token")
    assert token, "the page has no <meta name='csrf-token'>"
    return token


def submit(client, page: str, data: dict | None = None, *, action: str | None = None, **kwargs):
    """Open ``page``, fill the form posting to ``action`` with ``data`` and send it,
    hidden fields (the CSRF token) included, as a browser would."""
    url_kwargs = {"base_url": kwargs["base_url"]} if "base_url" in kwargs else {}
    response = client.get(page, **url_kwargs)
    assert response.status_code == 200, f"GET {page} answered {response.status_code}"
    form = find_form(response.get_data(as_text=True), action)
    values = form.values()
    values.update(data or {})
    target = form.action or page
    return client.post(target, data=values, **kwargs)


def field_errors(html: str, field_id: str) -> list[str]:
    """The messages shown under one input (``<ul class="errors" id="<field>-err">``)."""
    match = re.search(rf'<ul class="errors" id="{re.escape(field_id)}-err">(.*?)</ul>', html, re.S)
    if not match:
        return []
    return [unescape(m).strip() for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def flashes(html: str) -> list[str]:
    return [unescape(m).strip() for m in re.findall(r'<p class="flash flash-\w+">(.*?)</p>', html, re.S)]


def text_of(html: str) -> str:
    """Visible text with tags removed and whitespace collapsed, for plain assertions."""
    without_tags = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", unescape(without_tags)).strip()

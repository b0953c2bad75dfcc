"""Shared form pieces: a base form that takes field errors from domain errors."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField as _DateField

from livelite.services.errors import DomainError


class Form(FlaskForm):
    def add_errors(self, exc: DomainError, *, only_empty: bool = False) -> bool:
        """Attach a domain error's messages to the matching fields; with ``only_empty``,
        fields the form itself already flagged keep just their own message.

        Returns False if some message belongs to no field (the caller flashes it).
        """
        placed = True
        for name, messages in (exc.errors or {}).items():
            field = getattr(self, name, None)
            if field is None or not hasattr(field, "errors"):
                placed = False
                continue
            if only_empty and field.errors:
                continue
            field.errors = list(field.errors) + list(messages)
        return placed and bool(exc.errors)


def safe_next(default: str) -> str:
    """The ``next`` parameter if it points inside this site, else ``default``."""
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return default


class DateField(_DateField):
    """A date field whose parse error is in our catalogue (WTForms' own is not)."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0]:
            return
        try:
            self.data = datetime.strptime(valuelist[0].strip(), "%Y-%m-%d").date()
        except ValueError:
            self.data = None
            raise ValueError(str(_l("Enter a valid date."))) from None

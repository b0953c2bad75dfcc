"""Site settings: a row in ``site_settings`` wins over the config default.

Only names listed in ``SETTINGS`` exist, each with a type, so an admin form, the CLI
and the API validate the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l

from livelite.extensions import db
from livelite.models import SiteSetting
from livelite.services.errors import ValidationFailed


@dataclass(frozen=True)
class SettingSpec:
    type: type
    label: str
    minimum: int | None = None
    maximum: int | None = None


SETTINGS: dict[str, SettingSpec] = {
    "MIN_AGE": SettingSpec(int, _l("Minimum age to register"), 0, 120),
    "LIVE_MIN_AGE": SettingSpec(int, _l("Minimum age to go live"), 0, 120),
    "LIVE_MIN_FOLLOWERS": SettingSpec(int, _l("Followers needed to go live"), 0, 10_000_000),
    "GIFT_MIN_AGE": SettingSpec(int, _l("Minimum age to send or receive gifts"), 0, 120),
    "REGISTRATION_OPEN": SettingSpec(bool, _l("Registration open")),
    "MAX_CONCURRENT_LIVES": SettingSpec(int, _l("Lives at the same time"), 1, 10_000),
    "MAX_INGEST_KBPS": SettingSpec(int, _l("Highest ingest bitrate (kbit/s)"), 100, 100_000),
    "MIN_FREE_DISK_MB": SettingSpec(int, _l("Free disk needed to go live (MB)"), 0, 10_000_000),
    "GO_LIVE_WINDOW_MINUTES": SettingSpec(
        int, _l("Minutes before an event’s start when GO LIVE opens"), 0, 1440
    ),
    "REMINDER_HOURS_BEFORE": SettingSpec(int, _l("Hours before an event for the first reminder"), 1, 168),
    "REMINDER_MINUTES_BEFORE": SettingSpec(int, _l("Minutes before an event for the last reminder"), 1, 600),
    "PUBLISHER_GRACE_SECONDS": SettingSpec(
        int, _l("Seconds a live waits for its publisher to come back"), 5, 3600
    ),
    "VIDEO_MIN_SECONDS": SettingSpec(int, _l("Shortest video (seconds)"), 1, 3600),
    "VIDEO_MAX_SECONDS": SettingSpec(int, _l("Longest video (seconds)"), 1, 3600),
    "VIDEO_MAX_MB": SettingSpec(int, _l("Largest video upload (MB)"), 1, 10_000),
    "STORY_MAX_SECONDS": SettingSpec(int, _l("Longest video story (seconds)"), 1, 3600),
    "CHAT_MAX_LENGTH": SettingSpec(int, _l("Longest chat message (characters)"), 1, 500),
    "CHAT_MESSAGES_PER_10S": SettingSpec(int, _l("Chat messages a person may send per 10 seconds"), 1, 100),
    "QUESTION_INTERVAL_SECONDS": SettingSpec(int, _l("Seconds between two questions from one person"), 0, 3600),
    "LIKES_PER_SECOND": SettingSpec(int, _l("Hearts a person may send per second"), 1, 100),
    "MAX_GUESTS": SettingSpec(int, _l("Guests on a live at once"), 0, 5),
    "CREATOR_SHARE_PERCENT": SettingSpec(int, _l("Creator’s share of gifts (%)"), 0, 100),
    "CASHOUT_MIN_DIAMONDS": SettingSpec(int, _l("Fewest diamonds in a cash-out"), 1, 100_000_000),
    "CASHOUT_CENTS_PER_100_DIAMONDS": SettingSpec(
        int, _l("Money paid for 100 diamonds (cents)"), 0, 100_000
    ),
    "GIFT_COMBO_SECONDS": SettingSpec(int, _l("Seconds in which repeated gifts combine"), 1, 60),
    "REPLAY_RETENTION_DAYS": SettingSpec(int, _l("Days replays are kept (0: until deleted)"), 0, 36_500),
    "REPLAY_WARNING_DAYS": SettingSpec(int, _l("Days before deletion when a replay’s owner is told"), 0, 365),
    "STORAGE_QUOTA_MB": SettingSpec(int, _l("Storage per person for replays and videos (MB, 0: no limit)"), 0, 100_000_000),
}


def get_setting(key: str):
    """The current value of a setting: the stored override, else the config default."""
    if key not in SETTINGS:
        raise KeyError(key)
    row = db.session.get(SiteSetting, key)
    if row is not None:
        return json.loads(row.value)
    return current_app.config[key]


def all_settings() -> dict[str, object]:
    return {key: get_setting(key) for key in SETTINGS}


def parse_setting(key: str, raw) -> object:
    """Convert and range-check a value given as text (CLI, forms) or JSON (API)."""
    spec = SETTINGS.get(key)
    if spec is None:
        raise ValidationFailed({"key": [str(_l("Unknown setting."))]})
    if spec.type is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValidationFailed({key: [str(_l("Enter true or false."))]})
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationFailed({key: [str(_l("Enter a whole number."))]}) from None
    if (spec.minimum is not None and value < spec.minimum) or (
        spec.maximum is not None and value > spec.maximum
    ):
        raise ValidationFailed(
            {key: [str(_l("Enter a number from %(lo)s to %(hi)s.", lo=spec.minimum, hi=spec.maximum))]}
        )
    return value


# Pairs that must stay in order: (lower, upper).
ORDERED_PAIRS = (("VIDEO_MIN_SECONDS", "VIDEO_MAX_SECONDS"),)


def _check_order(key: str, value) -> None:
    for lower, upper in ORDERED_PAIRS:
        if key == lower and value > get_setting(upper):
            raise ValidationFailed(
                {
                    key: [
                        str(
                            _l(
                                "Must not be more than %(other)s (%(value)s).",
                                other=upper,
                                value=get_setting(upper),
                            )
                        )
                    ]
                }
            )
        if key == upper and value < get_setting(lower):
            raise ValidationFailed(
                {
                    key: [
                        str(
                            _l(
                                "Must not be less than %(other)s (%(value)s).",
                                other=lower,
                                value=get_setting(lower),
                            )
                        )
                    ]
                }
            )


def store_setting(key: str, value) -> None:
    """Write an already validated value; the caller commits (several at once)."""
    row = db.session.get(SiteSetting, key)
    if row is None:
        db.session.add(SiteSetting(key=key, value=json.dumps(value)))
    else:
        row.value = json.dumps(value)


def set_setting(key: str, raw) -> object:
    """Validate and store a setting; returns the stored value."""
    value = parse_setting(key, raw)
    _check_order(key, value)
    row = db.session.get(SiteSetting, key)
    if row is None:
        row = SiteSetting(key=key, value=json.dumps(value))
        db.session.add(row)
    else:
        row.value = json.dumps(value)
    db.session.commit()
    return value

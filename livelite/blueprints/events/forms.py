from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired

from livelite.forms import Form
from livelite.models import Visibility
from livelite.services.events import DURATION_CHOICES


def _optional_int(value) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)


class EventForm(Form):
    title = StringField(
        _l("Title"), validators=[InputRequired(_l("Give your event a title."))], render_kw={"maxlength": 100}
    )
    description = TextAreaField(_l("Description"), render_kw={"maxlength": 2000, "rows": 5})
    starts_at = StringField(
        _l("Starts at"),
        validators=[InputRequired(_l("Choose when the event starts."))],
        description=_l("In your time zone."),
        render_kw={"type": "datetime-local"},
    )
    # Filled by the page with the browser's IANA time zone; UTC without JavaScript.
    timezone = HiddenField(default="UTC", render_kw={"data-timezone": True})
    duration_minutes = SelectField(
        _l("Duration"),
        coerce=int,
        default=60,
        choices=[(m, lazy_ngettext("%(num)s minute", "%(num)s minutes", m)) for m in DURATION_CHOICES],
    )
    visibility = SelectField(
        _l("Who can watch"),
        default=Visibility.PUBLIC.value,
        choices=[
            (Visibility.PUBLIC.value, _l("Everyone")),
            (Visibility.FOLLOWERS.value, _l("My followers")),
            (Visibility.INVITE.value, _l("Only people with the invite link")),
        ],
    )
    # Choices are the creator's groups (set by the view); another host's group is refused
    # by the service with its own message, so the choice is not checked here.
    group_id = SelectField(_l("Also let in a group"), coerce=_optional_int, validate_choice=False)
    cover = FileField(
        _l("Cover image"),
        description=_l("Optional. JPEG, PNG or WebP; cropped to 16:9."),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )

    def set_groups(self, groups) -> None:
        none = ("", _l("No group: only the link or code"))
        self.group_id.choices = [none] + [(g.id, g.name) for g in groups]

    def starts_at_utc(self) -> datetime | None:
        """The local date and time typed, in the browser's zone, as an aware datetime."""
        try:
            zone = ZoneInfo(self.timezone.data or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        try:
            naive = datetime.fromisoformat((self.starts_at.data or "").strip())
        except ValueError:
            return None
        if naive.tzinfo is not None:
            return naive
        return naive.replace(tzinfo=zone)

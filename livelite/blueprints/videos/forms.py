from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, TextAreaField

from livelite.forms import Form
from livelite.services.videos import CAPTION_MAX


class VideoForm(Form):
    """The upload form. Every rule (size, type, duration, event) is the service's;
    the form only carries values and the CSRF token."""

    file = FileField(
        _l("Video or picture"),
        render_kw={"accept": "video/mp4,video/quicktime,video/webm,video/*,image/jpeg,image/png,image/webp"},
    )
    kind = RadioField(
        _l("Post as"),
        choices=[("video", _l("Video (on your profile)")), ("story", _l("Story (gone after 24 hours)"))],
        default="video",
    )
    caption = TextAreaField(_l("Caption"), render_kw={"maxlength": CAPTION_MAX, "rows": 4})
    event_id = SelectField(_l("Link an upcoming LIVE event"), coerce=int, default=0, validate_choice=False)

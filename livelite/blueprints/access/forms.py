from flask_babel import lazy_gettext as _l
from wtforms import SubmitField, TextAreaField
from wtforms.validators import InputRequired

from livelite.forms import Form
from livelite.services.access import REASON_MAX, REASON_MIN


class AccessRequestForm(Form):
    # Lengths are checked by the service (after stripping), which words the message.
    reason = TextAreaField(
        _l("Why do you want to go live?"),
        validators=[InputRequired(_l("Tell the admins why you want to go live."))],
        description=_l(
            "What you will stream and for whom, in %(min)s to %(max)s characters. The admins read it.",
            min=REASON_MIN,
            max=REASON_MAX,
        ),
        render_kw={"maxlength": REASON_MAX, "rows": 5},
    )
    submit = SubmitField(_l("Send my request"))

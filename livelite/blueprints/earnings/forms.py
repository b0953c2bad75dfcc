from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, StringField, SubmitField
from wtforms.validators import InputRequired

from livelite.forms import Form
from livelite.services.cashouts import PAYOUT_DETAILS_MAX, PAYOUT_DETAILS_MIN


class WholeNumberField(IntegerField):
    """An integer field whose parse error is in our catalogue (WTForms' own is not)."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            return
        try:
            self.data = int(valuelist[0].strip().replace(" ", "").replace("\u202f", ""))
        except ValueError:
            self.data = None
            raise ValueError(str(_l("Enter a whole number of diamonds."))) from None


class CashoutForm(Form):
    # The rules (minimum, balance, lengths) are the service's, which words the messages.
    diamonds = WholeNumberField(
        _l("Diamonds to cash out"),
        validators=[InputRequired(_l("Say how many diamonds to cash out."))],
        render_kw={"inputmode": "numeric", "data-cashout-diamonds": True},
    )
    payout_details = StringField(
        _l("Where to send the money"),
        validators=[InputRequired(_l("Say where to send the money."))],
        description=_l(
            "An IBAN, a PayPal address… as the admins should use it, %(min)s to %(max)s characters.",
            min=PAYOUT_DETAILS_MIN,
            max=PAYOUT_DETAILS_MAX,
        ),
        render_kw={"maxlength": PAYOUT_DETAILS_MAX, "autocomplete": "off", "spellcheck": "false"},
    )
    # A new one with each page: a double submit or a retry sends the same key and gets
    # the same request back instead of a second one.
    idempotency_key = HiddenField()
    submit = SubmitField(_l("Ask for the cash-out"))

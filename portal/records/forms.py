from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from ..formkit import choices
from ..i18n import LABELS
from ..models.privacy import REQUESTERS


class RecordRequestForm(FlaskForm):
    requester_kind = RadioField(_l("Who asks"), choices=choices((k, LABELS["requester"][k]) for k in REQUESTERS),
                                validators=[InputRequired(message=_l("Choose who asks."))])
    requester = StringField(_l("Name of the person asking"), validators=[DataRequired(), Length(max=200)])
    received_on = DateField(_l("Request received on"),
                            validators=[InputRequired(message=_l("Give the date the request came in."))])

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from ..formkit import choices, optional_int
from ..i18n import LABELS
from ..models.privacy import REQUESTERS


class RecordRequestForm(FlaskForm):
    requester_kind = RadioField(_l("Who asks"), choices=choices((k, LABELS["requester"][k]) for k in REQUESTERS),
                                validators=[InputRequired(message=_l("Choose who asks."))])
    # A guardian is chosen from the family (their restrictions are checked); anyone else is named.
    guardian_id = SelectField(_l("Which parent or guardian"), coerce=optional_int, validate_choice=False)
    requester = StringField(_l("Name of the person asking (if not a guardian listed)"),
                            validators=[Optional(), Length(max=200)])
    received_on = DateField(_l("Request received on"),
                            validators=[InputRequired(message=_l("Give the date the request came in."))])

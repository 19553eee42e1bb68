from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..formkit import choices, optional_int
from ..i18n import LABELS
from ..models.cases import RISK_LEVELS


def _choices(kind, codes):
    return choices((c, LABELS[kind][c]) for c in codes)


class OpenCaseForm(FlaskForm):
    worker = SelectField(_l("Assigned worker"), coerce=int, validators=[DataRequired()])
    risk_level = SelectField(_l("Initial risk level"), choices=_choices("risk", RISK_LEVELS))


class VersionedForm(FlaskForm):
    version = HiddenField()


class StatusForm(VersionedForm):
    status = SelectField(_l("Move to"), validators=[DataRequired()])


class RiskForm(VersionedForm):
    risk_level = SelectField(_l("New risk level"), choices=_choices("risk", RISK_LEVELS))
    reason = TextAreaField(_l("Reason for the change"),
                           validators=[DataRequired(message=_l("Say why the risk level changes.")),
                                       Length(max=2000)])


class AssignForm(VersionedForm):
    worker = SelectField(_l("Assign to"), coerce=optional_int, validators=[DataRequired()])


class MemberForm(VersionedForm):
    member = SelectField(_l("Add to the team"), coerce=optional_int, validators=[DataRequired()])


class RemoveMemberForm(VersionedForm):
    user_id = HiddenField(validators=[DataRequired()])


class CaseFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()])
    risk = SelectField(_l("Risk"), validators=[Optional()])

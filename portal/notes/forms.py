from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from .services import MAX_NOTE


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Confidential note"), validators=[
        DataRequired(message=_l("Write the note before saving it.")), Length(max=MAX_NOTE)],
        render_kw={"rows": 5})
    restricted = BooleanField(_l("Restricted: only me and my supervision line may read it"))


class AmendForm(FlaskForm):
    body = TextAreaField(_l("Amended text"), validators=[DataRequired(), Length(max=MAX_NOTE)],
                         render_kw={"rows": 8})
    reason = TextAreaField(_l("Reason for the amendment"), validators=[
        DataRequired(message=_l("Say why the note is amended.")), Length(max=2000)], render_kw={"rows": 2})
    version = HiddenField()


class AttachmentForm(FlaskForm):
    file = FileField(_l("File (PDF, PNG or JPEG)"), validators=[FileRequired(_l("Choose a file."))])


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(_l("Why do you need this case now?"), filters=[lambda v: (v or "").strip()], validators=[
        DataRequired(message=_l("A written reason is required.")),
        Length(min=20, max=2000, message=_l("Explain the emergency in at least 20 characters."))],
        render_kw={"rows": 4})


class ConfirmForm(FlaskForm):
    pass

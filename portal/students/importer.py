"""CSV import of students and guardians: all rows or none, with a row-by-row report.

Columns (header row required): school_code, student_number, family_name, given_name, grade,
class_name, date_of_birth (YYYY-MM-DD); optional guardian_name, guardian_relationship,
guardian_phone, guardian_email, guardian_language, interpreter_needed (yes/no), left_on
(YYYY-MM-DD: the day the student left the school; retention counts from it).
A student number already known in that school updates the student instead of adding one.
"""
import csv
import io
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import audit, clock
from ..extensions import db
from ..models import Guardian, School, Student

REQUIRED = ("school_code", "student_number", "family_name", "given_name", "grade", "date_of_birth")
OPTIONAL = ("class_name", "guardian_name", "guardian_relationship", "guardian_phone",
            "guardian_email", "guardian_language", "interpreter_needed", "left_on")
LIMITS = {"student_number": 32, "family_name": 100, "given_name": 100, "grade": 20, "class_name": 20,
          "guardian_name": 200, "guardian_relationship": 40, "guardian_phone": 40,
          "guardian_email": 254, "guardian_language": 40}
MAX_ROWS = 20000

REASONS = {
    "missing_column": _l("The header has no column of this name."),
    "required": _l("This value is required."),
    "too_long": _l("This value is too long."),
    "unknown_school": _l("No school has this code."),
    "bad_date": _l("Use a date written YYYY-MM-DD."),
    "future_date": _l("The date of birth is in the future."),
    "future_left": _l("The day the student left is in the future."),
    "implausible_date": _l("The date of birth is not plausible for a school student."),
    "duplicate": _l("This student number appears more than once in the file for this school."),
    "bad_flag": _l("Use yes or no."),
    "bad_email": _l("This is not an email address."),
    "not_utf8": _l("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."),
    "empty": _l("The file has no rows."),
    "too_many": _l("The file has too many rows; split it into files of at most 20000."),
    "guardian_incomplete": _l("A guardian needs both a name and a relationship."),
}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rows: int = 0
    errors: list = field(default_factory=list)  # (line, field, reason code)

    @property
    def ok(self):
        return not self.errors

    def messages(self):
        return [(line, col, str(REASONS[code])) for line, col, code in self.errors]


def _parse_flag(value):
    v = (value or "").strip().lower()
    if v in ("", "no", "n", "false", "0", "否"):
        return False
    if v in ("yes", "y", "true", "1", "是"):
        return True
    return None


def read_rows(data: bytes):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, [(0, "", "not_utf8")]
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = headers
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        return None, [(1, c, "missing_column") for c in missing]
    rows = [(reader.line_num, row) for row in reader]
    if not rows:
        return None, [(1, "", "empty")]
    if len(rows) > MAX_ROWS:
        return None, [(1, "", "too_many")]
    return rows, []


def validate(rows, schools_by_code):
    errors, clean, seen = [], [], set()
    today = clock.now().date()
    for line, raw in rows:
        row = {k: (raw.get(k) or "").strip() for k in REQUIRED + OPTIONAL}
        row_errors = []
        for col in REQUIRED:
            if not row[col]:
                row_errors.append((line, col, "required"))
        for col, limit in LIMITS.items():
            if len(row[col]) > limit:
                row_errors.append((line, col, "too_long"))
        school = schools_by_code.get(row["school_code"])
        if row["school_code"] and school is None:
            row_errors.append((line, "school_code", "unknown_school"))
        dob = None
        if row["date_of_birth"]:
            try:
                dob = date.fromisoformat(row["date_of_birth"])
            except ValueError:
                row_errors.append((line, "date_of_birth", "bad_date"))
            else:
                if dob > today:
                    row_errors.append((line, "date_of_birth", "future_date"))
                elif not (2 <= today.year - dob.year <= 25):
                    row_errors.append((line, "date_of_birth", "implausible_date"))
        left_on = None
        if row["left_on"]:
            try:
                left_on = date.fromisoformat(row["left_on"])
            except ValueError:
                row_errors.append((line, "left_on", "bad_date"))
            else:
                if left_on > today:
                    row_errors.append((line, "left_on", "future_left"))
        flag = _parse_flag(row["interpreter_needed"])
        if flag is None:
            row_errors.append((line, "interpreter_needed", "bad_flag"))
        if bool(row["guardian_name"]) != bool(row["guardian_relationship"]):
            row_errors.append((line, "guardian_name", "guardian_incomplete"))
        if row["guardian_email"] and "@" not in row["guardian_email"]:
            row_errors.append((line, "guardian_email", "bad_email"))
        key = (row["school_code"], row["student_number"])
        if row["student_number"] and key in seen:
            row_errors.append((line, "student_number", "duplicate"))
        seen.add(key)
        if row_errors:
            errors.extend(row_errors)
        else:
            row.update(school=school, dob=dob, interpreter=flag, left=left_on)
            clean.append(row)
    return clean, errors


def import_students(actor, data: bytes) -> ImportReport:
    """Validate every row first; write nothing unless all rows are good. Flushes, never commits."""
    report = ImportReport()
    rows, errors = read_rows(data)
    if errors:
        report.errors = errors
        return report
    report.rows = len(rows)
    schools = {s.code: s for s in db.session.scalars(select(School))}
    clean, errors = validate(rows, schools)
    if errors:
        report.errors = errors
        return report
    existing = {}
    for school_id in {r["school"].id for r in clean}:
        for s in db.session.scalars(select(Student).where(Student.school_id == school_id)):
            existing[(school_id, s.student_number)] = s
    for row in clean:
        student = existing.get((row["school"].id, row["student_number"]))
        if student is None:
            student = Student(school=row["school"], student_number=row["student_number"])
            db.session.add(student)
            report.created += 1
        else:
            report.updated += 1
        student.family_name, student.given_name = row["family_name"], row["given_name"]
        student.grade, student.class_name = row["grade"], row["class_name"] or None
        student.date_of_birth = row["dob"]
        student.left_on, student.active = row["left"], row["left"] is None
        if row["guardian_name"]:
            guardian = next((g for g in student.guardians if g.name == row["guardian_name"]), None)
            if guardian is None:
                from ..crypto import new_uid
                guardian = Guardian(uid=new_uid(), name=row["guardian_name"])
                student.guardians.append(guardian)
            guardian.relationship_to_student = row["guardian_relationship"]
            guardian.language = row["guardian_language"] or None
            guardian.interpreter_needed = row["interpreter"]
            if row["guardian_phone"]:
                guardian.phone = row["guardian_phone"]
            if row["guardian_email"]:
                guardian.email = row["guardian_email"]
    db.session.flush()
    audit.record("students.imported", actor=actor, object_type="students",
                 details={"created": report.created, "updated": report.updated})
    return report

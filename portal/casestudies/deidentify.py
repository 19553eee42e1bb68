"""De-identification of a case for a case study (案例交流, seed 003).

`Identifiers(case)` gathers what could point back to the student: the student's names (and the
ways Chinese speech refers to a person: 小明, 王同学, 小王…), student number, school, family
members' names and contact details, other students of the school, staff names, case and report
references, addresses, phone numbers and e-mail addresses, and every date the portal holds for the
case. `scrub(text)` replaces them; dates become the day counted from the day the case was opened
("day 12"), so intervals survive and no calendar date does. `leaks(text)` finds what is still
there: a draft cannot go for approval, nor be approved, while it finds anything.
"""
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from pypinyin import lazy_pinyin
from sqlalchemy import select

from ..extensions import db
from ..models import (Assessment, CasePlan, Closure, Concern, Crisis, FamilyContact, FollowUp, HomeVisit, Referral,
                      School, ServiceRecord, Student, User)
from ..models.students import _CJK

# Chinese ways of naming someone by their family name: 王同学, 王妈妈, 小王, 老王…
STUDENT_SUFFIXES = ("同学", "同学们", "小朋友", "君")
FAMILY_SUFFIXES = ("妈妈", "爸爸", "奶奶", "爷爷", "外婆", "外公", "姥姥", "姥爷", "阿姨", "叔叔", "先生", "女士",
                   "太太", "家长", "家")
PREFIXES = ("小", "老", "阿")
SCHOOL_WORDS = re.compile(r"\s*(Primary School|Middle School|High School|Secondary School|School|Primary|Middle|"
                          r"小学|中学|初中|高中|学校|附小|附中)$", re.I)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
MONTH_RE = "|".join(m for m in MONTHS) + "|" + "|".join(m[:3] for m in MONTHS)
_MONTH_NO = {m.lower(): i + 1 for i, m in enumerate(MONTHS)} | {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)}

# Shapes that identify whoever they belong to, known or not.
PHONE = re.compile(r"(?<![\d-])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![\d-])|(?<![\d-])0\d{2,3}-?\d{7,8}(?![\d-])")
LONG_NUMBER = re.compile(r"(?<![\d-])\d{7,}[Xx]?(?![\d-])")  # ID card, bank and long student numbers
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
LATIN_PAIR = re.compile(r"\b[A-Z][a-z]+\s+[A-Z][a-z]+\b")
REFERENCE = re.compile(r"\b[A-Z]\d{4}-\d{5}\b")  # case, concern, crisis, referral references
ADDRESS_ZH = re.compile(r"[\u4e00-\u9fff]{1,12}(?:路|街|大道|道|巷|弄|胡同|村|小区|花园|公寓|新村)\s*\d+\s*"
                        r"(?:号|弄|栋|幢|座)?(?:\s*\d+\s*(?:号|栋|幢|座|单元|室|楼|层))*")
ADDRESS_EN = re.compile(r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Drive|Dr|"
                        r"Way|Court|Ct|Close|Place|Pl)\b\.?")
# Dates as people write them. Each pattern's named groups give the parts it has.
DATE_PATTERNS = [
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?"),
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(?P<d>\d{1,2})[/.](?P<m>\d{1,2})[/.](?P<y>(?:19|20)\d{2})(?!\d)"),
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon>{MONTH_RE})\.?,?(?:\s+(?P<y>(?:19|20)\d{{2}}))?\b"),
    re.compile(rf"\b(?P<mon>{MONTH_RE})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>(?:19|20)\d{{2}})\b)?"),
    re.compile(r"(?<!\d)(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]"),
]


def _as_date(value):
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


def date_forms(d: date) -> set:
    """The ways an exact date is commonly written, to look for in a text."""
    month = MONTHS[d.month - 1]
    return {f"{d:%Y-%m-%d}", f"{d.year}-{d.month}-{d.day}", f"{d:%Y/%m/%d}", f"{d.year}/{d.month}/{d.day}",
            f"{d:%Y.%m.%d}", f"{d.year}年{d.month}月{d.day}日", f"{d.year}年{d.month}月{d.day}号",
            f"{d.month}月{d.day}日", f"{d.month}月{d.day}号", f"{d:%d/%m/%Y}", f"{d.day}/{d.month}/{d.year}",
            f"{d:%m/%d/%Y}", f"{d.month}/{d.day}/{d.year}", f"{d.day} {month} {d.year}", f"{d.day} {month}",
            f"{month} {d.day}, {d.year}", f"{month} {d.day}", f"{d.day} {month[:3]} {d.year}",
            f"{month[:3]} {d.day}, {d.year}"}


@dataclass
class Term:
    pattern: re.Pattern
    replacement: str
    kind: str


@dataclass
class Identifiers:
    """Everything that could identify the student of `case`, gathered once (a few queries)."""
    case: object
    terms: list = field(default_factory=list)
    dates: set = field(default_factory=set)
    origin: date | None = None

    def __post_init__(self):
        case, student = self.case, self.case.student
        self.origin = _as_date(case.opened_at)
        self.labels = {
            "student": _("[the student]"), "family": _("[family member]"), "other_student": _("[another student]"),
            "staff": _("[staff member]"), "school": _("[the school]"), "other_school": _("[a school]"),
            "number": _("[number]"), "phone": _("[phone]"), "email": _("[e-mail]"), "address": _("[address]"),
            "reference": _("[reference]"),
        }
        self._person(student.family_name, student.given_name, "student", "family")
        self._literal(student.student_number, "number")
        for g in student.guardians:
            self._name(g.name, "family")
            for value, kind in ((g.phone, "phone"), (g.email, "email"), (g.address, "address")):
                self._literal(value, kind)
        schools = db.session.scalars(select(School)).all()
        for s in sorted(schools, key=lambda s: s.id != case.school_id):
            kind = "school" if s.id == case.school_id else "other_school"
            self._literal(s.name, kind)
            short = SCHOOL_WORDS.sub("", s.name).strip()
            if len(short) >= 2 and short != s.name:
                self._literal(short, kind, words=True)
            self._literal(s.code, kind, words=True, case_sensitive=True)
            self.terms.append(Term(re.compile(rf"\b{re.escape(s.code)}\d+\b"), self.labels["number"], "number"))
        # Every other student of the district, by full name: looked up word by word (a set, not a
        # pattern: there may be tens of thousands).
        self.others_cjk, self.others_latin = set(), set()
        own = {student.family_name + student.given_name, f"{student.given_name} {student.family_name}".lower()}
        for family, given in db.session.execute(select(Student.family_name, Student.given_name).where(
                Student.id != student.id)):
            family, given = (family or "").strip(), (given or "").strip()
            if _CJK.search(family + given):
                if len(family + given) >= 2 and family + given not in own:
                    self.others_cjk.add(family + given)
            elif family and given:
                self.others_latin.update({f"{given} {family}".lower(), f"{family} {given}".lower()} - own)
        staff = db.session.scalars(select(User.display_name).where(
            User.schools.any(School.id == case.school_id) | User.id.in_(
                {case.worker_id} | {m.user_id for m in case.members}))).all()
        for name in staff:
            for part in re.split(r"[()（）]", name):
                part = re.sub(r"^(Dr|Mr|Mrs|Ms|Miss)\.?\s+", "", part.strip())
                if len(part) >= 2:
                    self._literal(part, "staff", words=not _CJK.search(part))
        self._dates()
        # Longest first, so "王小明" goes before "小明" and a school's full name before its short one.
        self.terms.sort(key=lambda t: -len(t.pattern.pattern))

    # -- gathering ----------------------------------------------------------------------------------

    def _literal(self, value, kind, *, words=False, case_sensitive=False):
        value = (value or "").strip()
        if len(value) < 2:
            return
        body = re.escape(value)
        if words or not _CJK.search(value):
            body = rf"(?<![\w]){body}(?![\w])"
        self.terms.append(Term(re.compile(body, 0 if case_sensitive else re.I), self.labels[kind], kind))

    def _full_names(self, family, given, kind):
        family, given = (family or "").strip(), (given or "").strip()
        if not family or not given:
            return
        if _CJK.search(family + given):
            self._literal(family + given, kind)
        else:
            self._literal(f"{given} {family}", kind)
            self._literal(f"{family} {given}", kind)

    def _romanised(self, family, given, kind):
        """A Chinese name as pinyin too (Wang Xiaoming, Xiaoming Wang, Xiao Ming, Xiaoming): staff
        write it that way in English notes, letters and e-mail addresses."""
        fam, giv = "".join(lazy_pinyin(family)), lazy_pinyin(given)
        if not fam or not giv:
            return
        joined, spaced = "".join(giv), " ".join(giv)
        for form in {f"{fam} {joined}", f"{joined} {fam}", f"{fam}{joined}", f"{fam} {spaced}", f"{spaced} {fam}",
                     spaced, joined}:
            if len(form) >= 4:  # a lone syllable ("Ming") is too common a word to replace everywhere
                self._literal(form, kind, words=True)

    def _person(self, family, given, kind, family_kind):
        """A person's names, alone and in the forms speech uses."""
        family, given = (family or "").strip(), (given or "").strip()
        self._full_names(family, given, kind)
        if _CJK.search(family + given):
            self._romanised(family, given, kind)
            if len(given) >= 2:
                self._literal(given, kind)
            else:  # a one-character given name in its familiar forms (小明, 明明), or standing alone
                for form in [p + given for p in PREFIXES if p != "老"] + [given * 2]:
                    self._literal(form, kind)
                if given:  # not inside a Chinese word, where it is just a character
                    self.terms.append(Term(re.compile(rf"(?<![\u3400-\u9fff]){re.escape(given)}(?![\u3400-\u9fff])"),
                                           self.labels[kind], kind))
            for s in STUDENT_SUFFIXES:
                self._literal(family + s, kind)
            for p in PREFIXES:
                self._literal(p + family, kind)
            for s in FAMILY_SUFFIXES:
                self._literal(family + s, family_kind)
        else:
            for part in (given, family):
                self._literal(part, kind, words=True)

    def _name(self, name, kind):
        """A family member's name as one string (Chinese: family name first)."""
        name = (name or "").strip()
        if _CJK.search(name) and len(name) >= 2:
            family, given = name[0], name[1:]
            self._literal(name, kind)
            self._romanised(family, given, kind)
            if len(given) >= 2:
                self._literal(given, kind)
            for s in FAMILY_SUFFIXES:
                self._literal(family + s, kind)
        else:
            self._literal(name, kind)
            for part in name.split():
                if len(part) >= 3:
                    self._literal(part, kind, words=True)

    def _dates(self):
        case, student = self.case, self.case.student
        found = {student.date_of_birth, case.opened_at, case.closed_at}

        def add(*values):
            found.update(values)
        for model, cols in ((ServiceRecord, ("occurred_on", "submitted_at")), (CasePlan, ("review_on", "submitted_at")),
                            (Assessment, ("assessed_on",)), (Closure, ("submitted_at",)),
                            (Crisis, ("occurred_at", "started_at", "closed_at")),
                            (FamilyContact, ("occurred_at", "follow_up_on")),
                            (HomeVisit, ("planned_at", "expected_return_at")),
                            (Referral, ("created_at", "sent_at", "first_appointment_on", "closed_at"))):
            for row in db.session.execute(select(*(getattr(model, c) for c in cols)).where(model.case_id == case.id)):
                add(*row)
        for row in db.session.execute(select(Concern.observed_at, Concern.created_at).where(
                Concern.student_id == student.id)):
            add(*row)
        for (due,) in db.session.execute(select(FollowUp.due_at).join(Crisis).where(Crisis.case_id == case.id)):
            add(due)
        for plan in db.session.scalars(select(CasePlan).where(CasePlan.case_id == case.id)):
            for goal in json.loads(plan.goals or "[]"):
                if goal.get("target"):
                    try:
                        add(date.fromisoformat(str(goal["target"])[:10]))
                    except ValueError:
                        pass
        self.dates = {d for d in (_as_date(v) for v in found) if d is not None}

    # -- using them ----------------------------------------------------------------------------------

    def day(self, value) -> str:
        """A date as the day counted from the day the case was opened."""
        d = _as_date(value)
        return _("day %(n)d", n=(d - self.origin).days) if d else ""

    def _date_match(self, m):
        parts = m.groupdict()
        try:
            month = int(parts["m"]) if parts.get("m") else _MONTH_NO[parts["mon"].lower().rstrip(".")]
            year = int(parts["y"]) if parts.get("y") else self.origin.year
            d = date(year, month, int(parts["d"]))
        except (ValueError, KeyError, TypeError):
            return "[" + _("date") + "]"
        if not parts.get("y"):  # no year written: the nearest such date to the case
            candidates = [d.replace(year=y) for y in (year - 1, year, year + 1) if _valid(y, d.month, d.day)]
            d = min(candidates, key=lambda c: abs((c - self.origin).days))
        return "[" + self.day(d) + "]"

    def _other_students(self, text):
        """(start, end, name) of other students' full names in the text."""
        out = []
        i = 0
        while i < len(text):
            for n in (4, 3, 2):
                if text[i:i + n] in self.others_cjk:
                    out.append((i, i + n, text[i:i + n]))
                    i += n - 1
                    break
            i += 1
        for m in LATIN_PAIR.finditer(text):
            if m.group(0).lower() in self.others_latin:
                out.append((m.start(), m.end(), m.group(0)))
        return out

    def scrub(self, text: str) -> str:
        if not text:
            return text or ""
        for pattern in DATE_PATTERNS:
            text = pattern.sub(self._date_match, text)
        for t in self.terms:
            text = t.pattern.sub(t.replacement, text)
        for start, end, _name in sorted(self._other_students(text), reverse=True):
            text = text[:start] + self.labels["other_student"] + text[end:]
        for pattern, kind in ((EMAIL, "email"), (PHONE, "phone"), (REFERENCE, "reference"), (ADDRESS_ZH, "address"),
                              (ADDRESS_EN, "address"), (LONG_NUMBER, "number")):
            text = pattern.sub(self.labels[kind], text)
        return text

    def leaks(self, text: str) -> list:
        """[(kind, what)] of identifiers still in `text`, in order of appearance, without repeats."""
        found = []
        text = text or ""
        for t in self.terms:
            for m in t.pattern.finditer(text):
                found.append((m.start(), t.kind, m.group(0)))
        for start, _end, name in self._other_students(text):
            found.append((start, "other_student", name))
        for pattern, kind in ((EMAIL, "email"), (PHONE, "phone"), (REFERENCE, "reference"), (ADDRESS_ZH, "address"),
                              (ADDRESS_EN, "address"), (LONG_NUMBER, "number")):
            for m in pattern.finditer(text):
                found.append((m.start(), kind, m.group(0)))
        for d in self.dates:
            for form in date_forms(d):
                for m in re.finditer(rf"(?<![\d\w]){re.escape(form)}(?![\d])", text, re.I):
                    found.append((m.start(), "date", m.group(0)))
        seen, out = set(), []
        for _pos, kind, what in sorted(found):
            if (kind, what) not in seen:
                seen.add((kind, what))
                out.append((kind, what))
        return out


def _valid(y, m, d):
    try:
        date(y, m, d)
        return True
    except ValueError:
        return False


def age_at(dob, day) -> int:
    years = day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))
    return max(years, 0)

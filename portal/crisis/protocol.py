"""The crisis protocol as data: which steps a crisis has, which are required and which may be waived
with a reason, the Columbia screener's branching and levels, and the follow-up cadence.

Requirements depend on what is known so far: a high screen makes emergency help required and not
waivable; a hospital admission makes the re-entry meeting required.
"""
import re
from datetime import timedelta

from flask import current_app
from flask_babel import ngettext

# Order on the page. Codes are stored; labels live in i18n.LABELS["crisis_step"].
STEPS = ("safe_now", "risk_screen", "emergency", "guardian", "mandated_report", "hearing",
         "families_outcome", "safety_plan", "reentry")

QUESTIONS = ("q1", "q2", "q3", "q4", "q5", "q6", "q6_recent")
SAFETY_PLAN_SECTIONS = ("warning_signs", "internal_coping", "distraction", "help_people", "professionals",
                        "safe_environment", "reasons_for_living")


def requirements(crisis) -> dict:
    """code -> (required, waivable) for every step this crisis has. Absent codes are not offered:
    on the abuse path there is no guardian step (a mandated report replaces it)."""
    t, level = crisis.type, crisis.level
    out = {"safe_now": (True, False),
           "risk_screen": (True, False) if t == "suicide_self_harm" else (False, True)}
    if level == "high":
        out["emergency"] = (True, False)
    elif t in ("missing_student", "harm_to_others"):
        out["emergency"] = (True, True)
    else:
        out["emergency"] = (False, True)
    if t != "abuse_neglect":
        out["guardian"] = (True, True)
    out["mandated_report"] = (True, False) if t == "abuse_neglect" else (False, True)
    if t == "bullying_violence":
        out["hearing"] = (True, True)
        out["families_outcome"] = (True, True)
    needs_plan = t == "suicide_self_harm" or level in ("moderate", "high")
    out["safety_plan"] = (needs_plan, True)
    out["reentry"] = (crisis.hospitalised or t == "missing_student", True)
    return out


# -- Columbia protocol screener -------------------------------------------------------------------

class ScreenError(ValueError):
    def __init__(self, fields, code):
        super().__init__(code)
        self.fields = fields  # every unanswered question, so one submit shows them all
        self.field = fields[0]
        self.code = code


def clean_answers(raw: dict) -> dict:
    """Apply the screener's branching: 1, 2 and 6 always; 3-5 only when 2 is yes; 'within three
    months' only when 6 is yes. Skipped questions are stored as None, never as 'no'."""
    missing = []

    def yes_no(key):
        value = raw.get(key)
        if value in (True, "yes"):
            return True
        if value in (False, "no"):
            return False
        missing.append(key)
        return None
    answers = dict.fromkeys(QUESTIONS)
    answers["q1"], answers["q2"] = yes_no("q1"), yes_no("q2")
    if answers["q2"]:
        for key in ("q3", "q4", "q5"):
            answers[key] = yes_no(key)
    answers["q6"] = yes_no("q6")
    if answers["q6"]:
        answers["q6_recent"] = yes_no("q6_recent")
    if missing:
        raise ScreenError(missing, "answer")
    return answers


def _rule(text) -> set:
    return {part for part in re.split(r"[,\s]+", text or "") if part}


def screen_level(answers: dict, rules=None) -> str:
    """The level a screen's answers give, by the configured rules (checked high first)."""
    rules = rules or current_app.config["SCREEN_RULES"]
    yes = {k for k, v in answers.items() if v is True}
    for level in ("high", "moderate", "low"):
        if yes & _rule(rules.get(level)):
            return level
    return "none"


# -- follow-ups --------------------------------------------------------------------------------------

_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def cadence(text=None) -> list[tuple[str, timedelta]]:
    """'24h,72h,7d,30d' -> [('24h', 24 hours), ...]. Unknown parts are ignored."""
    text = text if text is not None else current_app.config["CRISIS_FOLLOW_UPS"]
    out = []
    for part in re.split(r"[,\s]+", text or ""):
        m = re.fullmatch(r"(\d+)([hdw])", part.strip().lower())
        if m and int(m.group(1)) > 0:
            out.append((part.strip().lower(), timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})))
    return sorted(out, key=lambda p: p[1])


def describe_cadence(name: str) -> str:
    """'72h' -> 'after 72 hours', '7d' -> 'after 7 days', in the reader's language."""
    m = re.fullmatch(r"(\d+)([hdw])", name or "")
    if not m:
        return name or ""
    n = int(m.group(1))
    return {"h": ngettext("after %(num)d hour", "after %(num)d hours", n),
            "d": ngettext("after %(num)d day", "after %(num)d days", n),
            "w": ngettext("after %(num)d week", "after %(num)d weeks", n)}[m.group(2)]

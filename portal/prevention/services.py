"""Rules of prevention and education activities, the term calendar, and the figures of the
school social workers' group and prevention work (activities by topic and school, people
reached, group sessions and the students they reached). Flush, never commit; audit every change.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import joinedload

from .. import audit, clock
from ..crypto import new_uid
from ..extensions import db
from ..i18n import local_today
from ..models import ActivityMaterial, GroupAttendance, GroupSession, PreventionActivity, School, StudentGroup
from ..models.prevention import ACTIVITY_STATES, ACTIVITY_TOPICS, ACTIVITY_TYPES, AUDIENCES, GRADES, SCALE
from ..notes import store
from ..permissions import school_ids
from ..rules import RuleError, clean_text

MAX_REACHED = 100000


class ActivityError(RuleError):
    pass


def _text(value, field, required=True, limit=4000):
    return clean_text(value, field, required=required, limit=limit, error=ActivityError)


def _counts(values, field):
    """Five answer counts (an empty box is 0), each between 0 and MAX_REACHED."""
    out = []
    for v in values:
        v = 0 if v in (None, "") else int(v)
        if not 0 <= v <= MAX_REACHED:
            raise ActivityError(field, "count")
        out.append(v)
    if len(out) != len(SCALE):
        raise ActivityError(field, "count")
    return out


def _fields(actor, school, *, type, topic, topic_other, title, occurs_on, status, audience, grades, classes,
            reached, materials, eval_question, eval_before, eval_after, notes):
    if school is None or school.id not in school_ids(actor):
        raise ActivityError("school_id", "invalid")
    if type not in ACTIVITY_TYPES:
        raise ActivityError("type", "invalid")
    if topic not in ACTIVITY_TOPICS:
        raise ActivityError("topic", "invalid")
    if status not in ACTIVITY_STATES:
        raise ActivityError("status", "invalid")
    if occurs_on is None:
        raise ActivityError("occurs_on", "required")
    held = status == "held"
    if held and occurs_on > local_today():
        raise ActivityError("occurs_on", "held_future")
    audience = [a for a in AUDIENCES if a in (audience or ())]
    if not audience:
        raise ActivityError("audience", "audience")
    if reached not in (None, ""):
        if not held:
            raise ActivityError("reached", "not_held")
        if not 1 <= int(reached) <= MAX_REACHED:
            raise ActivityError("reached", "reached")
    elif held:
        raise ActivityError("reached", "reached")
    f = {"type": type, "topic": topic, "title": _text(title, "title", limit=200), "occurs_on": occurs_on,
         "status": status, "audience": audience, "grades": [g for g in GRADES if g in (grades or ())],
         "topic_other": _text(topic_other, "topic_other", required=topic == "other", limit=100) or None,
         "classes": _text(classes, "classes", required=False, limit=200) or None,
         "reached": int(reached) if held else None,
         "materials": _text(materials, "materials", required=False, limit=500) or None,
         "notes": _text(notes, "notes", required=False) or None,
         "eval_question": None, "eval_before": None, "eval_after": None}
    question = _text(eval_question, "eval_question", required=False, limit=300)
    before, after = _counts(eval_before, "eval_before"), _counts(eval_after, "eval_after")
    if question or any(before) or any(after):
        if not held:
            raise ActivityError("eval_question", "eval_not_held")
        if not question:
            raise ActivityError("eval_question", "required")
        for field, counts in (("eval_before", before), ("eval_after", after)):
            if not sum(counts):
                raise ActivityError(field, "eval_empty")
            if sum(counts) > f["reached"]:
                raise ActivityError(field, "eval_total")
        f.update(eval_question=question, eval_before=before, eval_after=after)
    return f


def _apply(activity, f):
    for k in ("type", "topic", "topic_other", "title", "occurs_on", "status", "audience", "grades", "classes",
              "reached", "materials", "eval_question", "eval_before", "eval_after"):
        setattr(activity, k, f[k])
    activity.notes = f["notes"]


def create_activity(actor, school, **fields):
    f = _fields(actor, school, **fields)
    activity = PreventionActivity(uid=new_uid(), school=school, organiser=actor, created_at=clock.now())
    db.session.add(activity)
    _apply(activity, f)
    db.session.flush()
    audit.record("activity.created", activity, actor=actor,
                 details={"school_id": school.id, "status": f["status"], "topic": f["topic"]})
    return activity


def update_activity(actor, activity, *, version=None, **fields):
    if version not in (None, "") and str(version) != str(activity.version_id):
        raise ActivityError(None, "stale")
    f = _fields(actor, activity.school, **fields)
    old = activity.status
    _apply(activity, f)
    db.session.flush()
    audit.record("activity.updated", activity, actor=actor, details={"status": [old, f["status"]]})


def add_material(actor, activity, filename, data):
    try:
        mime, ext, name = store.check(filename, data)
    except store.FileRefused as exc:
        raise ActivityError("file", exc.code) from None
    m = ActivityMaterial(uid=new_uid(), activity=activity, uploaded_by=actor, content_type=mime, size=len(data),
                         created_at=clock.now())
    m.filename = name
    db.session.add(m)
    db.session.flush()
    store.write(activity, m.uid, data)
    audit.record("activity.material_added", activity, actor=actor, details={"material": m.id, "type": mime})
    return m


def read_material(actor, material) -> bytes:
    data = store.read(material.uid)
    audit.record("activity.material_downloaded", material.activity, actor=actor, details={"material": material.id})
    return data


def evaluation(activity):
    """Before and after: respondents, mean answer (1..5) and the share answering 4 or 5."""
    if not activity.eval_question:
        return None

    def one(counts):
        n = sum(counts)
        return {"n": n, "mean": sum(k * c for k, c in zip(SCALE, counts, strict=True)) / n if n else None,
                "high": (counts[3] + counts[4]) / n if n else None, "counts": counts}
    return {"question": activity.eval_question, "before": one(activity.eval_before),
            "after": one(activity.eval_after)}


# -- the term calendar and the figures ------------------------------------------------------------------

def _scope(user, school_id=None):
    mine = school_ids(user)
    return {school_id} if school_id in mine else set(mine)


def calendar_statement(user, start, end, school_id=None):
    """Planned, held and cancelled activities of the user's schools (or one of them) in a period."""
    return (select(PreventionActivity)
            .where(PreventionActivity.school_id.in_(_scope(user, school_id)),
                   PreventionActivity.occurs_on.between(start, end))
            .options(joinedload(PreventionActivity.school), joinedload(PreventionActivity.organiser))
            .order_by(PreventionActivity.occurs_on, PreventionActivity.id))


def figures(user, start, end, school_id=None) -> dict:
    """The period's figures for the user's schools, in four queries whatever the amount of data.

    Activities held, by topic and school, with the people they reached (the organiser's count);
    activities still planned; group work: groups that met, sessions held, and students who were
    present at least once."""
    ids = _scope(user, school_id)
    schools = db.session.scalars(select(School).where(School.id.in_(ids)).order_by(School.name)).all()
    zero = lambda: {"held": 0, "reached": 0, "planned": 0}  # noqa: E731
    cells = {}  # (topic, school id) -> counts
    for sid, topic, status, n, reached in db.session.execute(
            select(PreventionActivity.school_id, PreventionActivity.topic, PreventionActivity.status, func.count(),
                   func.coalesce(func.sum(PreventionActivity.reached), 0))
            .where(PreventionActivity.school_id.in_(ids), PreventionActivity.occurs_on.between(start, end),
                   PreventionActivity.status.in_(("held", "planned")))
            .group_by(PreventionActivity.school_id, PreventionActivity.topic, PreventionActivity.status)):
        cell = cells.setdefault((topic, sid), zero())
        if status == "held":
            cell["held"], cell["reached"] = n, int(reached)
        else:
            cell["planned"] = n
    groups = {s.id: {"groups": 0, "sessions": 0, "students": 0} for s in schools}
    for sid, n_groups, n_sessions in db.session.execute(
            select(StudentGroup.school_id, func.count(distinct(GroupSession.group_id)), func.count(GroupSession.id))
            .join(StudentGroup, StudentGroup.id == GroupSession.group_id)
            .where(StudentGroup.school_id.in_(ids), GroupSession.occurred_on.between(start, end))
            .group_by(StudentGroup.school_id)):
        groups[sid].update(groups=n_groups, sessions=n_sessions)
    for sid, n in db.session.execute(
            select(StudentGroup.school_id, func.count(distinct(GroupAttendance.student_id)))
            .join(GroupSession, GroupSession.id == GroupAttendance.session_id)
            .join(StudentGroup, StudentGroup.id == GroupSession.group_id)
            .where(StudentGroup.school_id.in_(ids), GroupSession.occurred_on.between(start, end),
                   GroupAttendance.status == "present")
            .group_by(StudentGroup.school_id)):
        groups[sid]["students"] = n

    def total(items):
        out = zero()
        for c in items:
            for k in out:
                out[k] += c[k]
        return out
    topics = [{"topic": t, "cells": {s.id: cells.get((t, s.id), zero()) for s in schools},
               "total": total(c for (tt, _), c in cells.items() if tt == t)}
              for t in ACTIVITY_TOPICS]
    by_school = {s.id: total(c for (_, sid), c in cells.items() if sid == s.id) for s in schools}
    groups_total = {k: sum(g[k] for g in groups.values()) for k in ("groups", "sessions", "students")}
    return {"start": start, "end": end, "schools": schools, "topics": topics, "by_school": by_school,
            "total": total(cells.values()), "groups": groups, "groups_total": groups_total,
            "students_shown": _students_shown(groups, groups_total)}


def _students_shown(groups, groups_total) -> dict:
    """Students in groups count children: a school's figure below the threshold shows as "<5",
    and then the district total is hidden too ("*"), or the figure would come back by subtraction
    (the reports apply the same rule). School id -> text, and "total" -> text."""
    threshold = current_app.config["SUPPRESS_BELOW"]
    out, small = {}, 0
    for sid, g in groups.items():
        n = g["students"]
        out[sid] = f"<{threshold}" if 0 < n < threshold else str(n)
        small += 0 < n < threshold
    total = groups_total["students"]
    out["total"] = f"<{threshold}" if 0 < total < threshold else ("*" if small == 1 else str(total))
    return out


def my_activities(user, horizon_days=7):
    """The user's planned activities coming up this week, or past their date without an outcome."""
    return db.session.scalars(select(PreventionActivity).where(
        PreventionActivity.organiser_id == user.id, PreventionActivity.status == "planned",
        PreventionActivity.occurs_on <= local_today() + timedelta(days=horizon_days))
        .options(joinedload(PreventionActivity.school)).order_by(PreventionActivity.occurs_on)).all()

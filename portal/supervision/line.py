"""The supervision line as a working tool: its policy (ratio and caseloads, kept as data), the tree
each supervisor sees with every person's caseload and open items, the warnings where the line
departs from the policy, moving people within a line, and handing a person's open work over in
one step when they leave or change school. Flush, never commit; audit every change."""
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import case as sql_case, func, or_, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from .. import audit, clock
from ..alerts import services as alerts
from ..auth.services import validate_supervisor
from ..extensions import db
from ..i18n import local_today
from ..models import (ActionItem, Case, CaseMember, CasePlan, CaseStudy, Closure, Crisis, Escalation, FollowUp,
                      HomeVisit, LinePolicy, School, ServiceRecord, Student, User)
from ..models.people import TIERS
from ..permissions import team_scope
from ..rules import RuleError
from ..web import path_for


class LineError(RuleError):
    pass


# -- the policy ---------------------------------------------------------------------------------------

def _pairs(text):
    out = {}
    for part in (text or "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            if k.strip() in TIERS and v.strip().isdigit():
                out[k.strip()] = int(v)
    return out


@dataclass
class Policy:
    ratio: list  # [(role, n)], top tier first
    caseload_limit: int
    load_shares: dict  # role -> percent of a worker's full caseload
    version: int | None = None
    updated_at: object = None
    updated_by: object = None

    def limit_for(self, role):
        share = self.load_shares.get(role)
        return None if share is None else self.caseload_limit * share // 100

    def ratio_of(self, role):
        return dict(self.ratio).get(role)


def _ordered(ratio: dict):
    return sorted(((r, n) for r, n in ratio.items() if n), key=lambda p: -TIERS[p[0]])


def current_policy() -> Policy:
    row = db.session.scalar(select(LinePolicy).options(joinedload(LinePolicy.updated_by))
                            .order_by(LinePolicy.id).limit(1))
    if row is not None:
        return Policy([tuple(p) for p in row.ratio], row.caseload_limit, dict(row.load_shares), row.version_id,
                      row.updated_at, row.updated_by)
    cfg = current_app.config
    return Policy(_ordered(_pairs(cfg["LINE_RATIO"])), cfg["CASELOAD_LIMIT"], _pairs(cfg["CASELOAD_SHARES"]))


def save_policy(actor, *, ratio: dict, caseload_limit, shares: dict, version=None):
    """ratio and shares map roles to whole numbers (None leaves a tier out)."""
    ratio = {r: n for r, n in ratio.items() if n is not None}
    if any(n < 1 or n > 1000 for n in ratio.values()):
        raise LineError("ratio", "ratio_range")
    ordered = _ordered(ratio)
    if len(ordered) < 2:
        raise LineError("ratio", "ratio_two")
    if any(lower < upper for (_, upper), (_, lower) in zip(ordered, ordered[1:], strict=False)):
        raise LineError("ratio", "ratio_order")  # each tier at least as many people as the one above
    if caseload_limit is None or not 1 <= caseload_limit <= 500:
        raise LineError("caseload_limit", "caseload_range")
    shares = {r: n for r, n in shares.items() if n is not None}
    if any(not 0 <= n <= 200 for n in shares.values()):
        raise LineError("shares", "share_range")
    row = db.session.scalar(select(LinePolicy).order_by(LinePolicy.id).limit(1))
    if row is None:
        row = LinePolicy(id=1)
        db.session.add(row)
    elif version not in (None, "") and str(version) != str(row.version_id):
        raise LineError(None, "stale")
    row.ratio = [list(p) for p in ordered]
    row.caseload_limit, row.load_shares = caseload_limit, shares
    row.updated_at, row.updated_by_id = clock.now(), actor.id
    db.session.flush()
    audit.record("line.policy_saved", row, actor=actor,
                 details={"ratio": row.ratio, "caseload_limit": caseload_limit, "shares": shares})
    return row


# -- the tree, figures and warnings ------------------------------------------------------------------

@dataclass
class Node:
    user: User
    children: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    limit: int | None = None
    warnings: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # active people of each role in this subtree (self excluded)


EMPTY = {"cases": 0, "submitted": 0, "returned": 0, "actions": 0, "actions_overdue": 0, "plans_overdue": 0,
         "follow_ups_missed": 0}


def person_figures(ids) -> dict:
    """Caseload and open items of each person, in five queries whatever the number of people."""
    ids = set(ids)
    out = {i: dict(EMPTY) for i in ids}
    if not ids:
        return out
    today = local_today()
    for uid, n in db.session.execute(select(Case.worker_id, func.count()).where(
            Case.worker_id.in_(ids), Case.status != "closed").group_by(Case.worker_id)):
        out[uid]["cases"] = n
    parts = [select(m.author_id.label("uid"), m.status.label("status")).where(
        m.author_id.in_(ids), m.status.in_(("submitted", "returned")))
        for m in (ServiceRecord, CasePlan, Closure, CaseStudy)]
    items = union_all(*parts).subquery()
    for uid, status, n in db.session.execute(select(items.c.uid, items.c.status, func.count())
                                             .group_by(items.c.uid, items.c.status)):
        out[uid][status] = n
    overdue = func.sum(sql_case((ActionItem.due_on < today, 1), else_=0))
    for uid, n, late in db.session.execute(select(ActionItem.owner_id, func.count(), overdue).where(
            ActionItem.owner_id.in_(ids), ActionItem.status == "open").group_by(ActionItem.owner_id)):
        out[uid]["actions"], out[uid]["actions_overdue"] = n, int(late or 0)
    for uid, n in db.session.execute(select(Case.worker_id, func.count()).select_from(CasePlan)
                                     .join(Case, Case.id == CasePlan.case_id).where(
            Case.worker_id.in_(ids), Case.status != "closed", CasePlan.status == "approved",
            CasePlan.review_on < today).group_by(Case.worker_id)):
        out[uid]["plans_overdue"] = n
    cutoff = clock.now() - timedelta(hours=current_app.config["CRISIS_FOLLOW_UP_GRACE_HOURS"])
    for uid, n in db.session.execute(select(Case.worker_id, func.count()).select_from(FollowUp)
                                     .join(Crisis, Crisis.id == FollowUp.crisis_id)
                                     .join(Case, Case.id == Crisis.case_id).where(
            Case.worker_id.in_(ids), Crisis.status != "closed", FollowUp.status == "pending",
            FollowUp.due_at < cutoff).group_by(Case.worker_id)):
        out[uid]["follow_ups_missed"] = n
    return out


def _warnings(node, policy):
    """Where the line departs from the policy: for each tier of the ratio below this person, the
    number of active people of that tier in their line against the ratio's share (a range when
    the share is not whole: 14 workers to 4 assistant supervisors is 3 or 4 each); and a caseload
    over the tier's limit."""
    out = []
    mine = policy.ratio_of(node.user.role)
    if mine and node.user.active:
        for role, n in policy.ratio:
            if TIERS[role] >= node.user.tier:
                continue
            low, high = n // mine, -(-n // mine)
            actual = node.counts.get(role, 0)
            if not low <= actual <= high:
                out.append({"kind": "ratio", "role": role, "actual": actual, "low": low, "high": high})
    if node.limit is not None and node.figures.get("cases", 0) > node.limit:
        out.append({"kind": "caseload", "actual": node.figures["cases"], "limit": node.limit})
    return out


def tree(root=None, policy=None):
    """The line under `root` (root first), or the whole district's line when root is None: nested
    Nodes with figures and warnings. A fixed number of queries, however large the line."""
    policy = policy or current_policy()
    stmt = select(User).where(User.role.in_(list(TIERS))).options(selectinload(User.schools)) \
        .order_by(User.display_name)
    if root is not None:
        stmt = stmt.where(User.id.in_(team_scope(root)))
    users = db.session.scalars(stmt).all()
    figures = person_figures(u.id for u in users)
    nodes = {u.id: Node(u, figures=figures[u.id], limit=policy.limit_for(u.role)) for u in users}
    roots = []
    for u in users:
        parent = nodes.get(u.supervisor_id) if (root is None or u.id != root.id) else None
        (parent.children if parent else roots).append(nodes[u.id])

    def count(node, seen):
        for child in node.children:
            if child.user.id in seen:
                continue  # bad data with a loop ends here
            seen.add(child.user.id)
            count(child, seen)
            if child.user.active:
                node.counts[child.user.role] = node.counts.get(child.user.role, 0) + 1
            for role, n in child.counts.items():
                node.counts[role] = node.counts.get(role, 0) + n
        node.warnings = _warnings(node, policy)
    for r in roots:
        count(r, {r.user.id})
    roots.sort(key=lambda n: (-n.user.tier, n.user.display_name))
    return roots


def walk(nodes):
    for n in nodes:
        yield n
        yield from walk(n.children)


def warning_count(nodes) -> int:
    return sum(len(n.warnings) for n in walk(nodes))


# -- moving people -------------------------------------------------------------------------------------

def supervisor_candidates(actor, person):
    """Who `person` may report to, within the actor's own line: active, a higher tier."""
    ids = team_scope(actor)
    return [u for u in db.session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True))
                                          .order_by(User.display_name))
            if u.tier > person.tier and u.id != person.supervisor_id]


def move(actor, person, supervisor, *, version=None):
    """Put `person` under another supervisor of the actor's line. Case access follows the line, so
    someone on the team of open cases is handed over first (the rule of the account pages)."""
    from ..admin.services import _chain_above, _tell_line, open_case_count
    if version not in (None, "") and str(version) != str(person.version_id):
        raise LineError(None, "stale")
    if supervisor is None:
        raise LineError("supervisor", "required")
    problem = validate_supervisor(person.role, supervisor)
    if problem:
        raise LineError("supervisor", problem)
    if supervisor.id == person.supervisor_id:
        raise LineError("supervisor", "unchanged")
    if supervisor.id not in team_scope(actor) or person.id in _chain_above(supervisor):
        raise LineError("supervisor", "outside_line")
    if open_case_count(person):
        raise LineError(None, "has_cases")
    old = person.supervisor_id
    person.supervisor = supervisor
    db.session.flush()
    audit.record("line.moved", person, actor=actor, details={"old": old, "new": supervisor.id})
    _tell_line(actor, person, old)
    alerts.notify(person, "line_changed", path_for("supervision.index"),
                  params={"name": person.display_name, "by": actor.display_name})


# -- handing work over -----------------------------------------------------------------------------------

def open_work(person) -> dict:
    """Everything still waiting on `person` that would be orphaned if they left: the open cases
    they hold, teams of open cases they are on, escalations addressed to them, home visits not
    yet done that they go on or check in for, and open supervision actions they own."""
    cases = db.session.scalars(select(Case).where(Case.worker_id == person.id, Case.status != "closed")
                               .options(joinedload(Case.student).joinedload(Student.school),
                                        selectinload(Case.members))
                               .order_by(Case.school_id, Case.opened_at)).all()
    memberships = db.session.scalars(select(Case).where(
        Case.status != "closed", Case.worker_id != person.id,
        Case.members.any(CaseMember.user_id == person.id)).options(joinedload(Case.student), joinedload(Case.worker))
        .order_by(Case.opened_at)).all()
    escalations = db.session.scalars(select(Escalation).where(Escalation.status == "open",
                                                              Escalation.to_user_id == person.id)
                                     .options(joinedload(Escalation.case).joinedload(Case.student))).all()
    visits = db.session.scalars(select(HomeVisit).where(HomeVisit.status == "planned", or_(
        HomeVisit.visitor_id == person.id, HomeVisit.companion_id == person.id,
        HomeVisit.checkin_contact_id == person.id)).options(joinedload(HomeVisit.case).joinedload(Case.student))).all()
    actions = db.session.scalars(select(ActionItem).where(ActionItem.owner_id == person.id,
                                                          ActionItem.status == "open")
                                 .options(joinedload(ActionItem.session), joinedload(ActionItem.case))).all()
    return {"cases": cases, "memberships": memberships, "escalations": escalations, "visits": visits,
            "actions": actions}


def orphans(person) -> dict:
    """How many items of each kind still wait on the person (all zero once handed over)."""
    return {k: len(v) for k, v in open_work(person).items()}


def hand_over(actor, person, *, default_worker=None, per_case=None):
    """Reassign everything `person` holds, in one step. Each open case goes to the worker chosen
    for it (or the default); the person leaves the teams they are on; escalations addressed to
    them go to their supervisor; their home visits and actions go to the case's new worker (or
    the session's supervisor). The new workers, the person and the line are told."""
    from ..cases import services as case_services
    per_case = per_case or {}
    work = open_work(person)
    if not any(work.values()):
        raise LineError(None, "nothing_to_hand_over")
    new_of = {}
    for case in work["cases"]:
        worker = per_case.get(case.id) or default_worker
        if worker is None:
            raise LineError("worker", "worker_required", case=case.reference)
        if worker.id == person.id:
            raise LineError("worker", "same_person", case=case.reference)
        try:
            case_services.assign_worker(actor, case, worker)
        except case_services.CaseError as exc:
            raise LineError("worker", exc.code, case=case.reference) from None
        new_of[case.id] = worker
    for case in work["memberships"]:
        case_services.remove_member(actor, case, person.id)
    above = next(iter(alerts.line_chain(person)), None) or actor
    for esc in work["escalations"]:
        esc.to_user = above
        audit.record("case.escalation_readdressed", esc.case, actor=actor,
                     details={"escalation": esc.id, "from": person.id, "to": above.id})
        alerts.notify(above, "case_escalated", path_for("cases.show", case_id=esc.case_id),
                      params={"case": esc.case.reference, "by": esc.from_user.display_name})
    for visit in work["visits"]:
        case_worker = new_of.get(visit.case_id) or visit.case.worker
        visitor = case_worker if visit.visitor_id == person.id else visit.visitor
        companion = None if visit.companion_id in (person.id, visitor.id) else visit.companion
        checkin = visit.checkin_contact
        if visit.checkin_contact_id in (person.id, visitor.id):  # never one's own check-in colleague
            checkin = case_worker if case_worker.id != visitor.id else actor
        visit.visitor, visit.companion, visit.checkin_contact = visitor, companion, checkin
        audit.record("visit.handed_over", visit, actor=actor, details={"from": person.id})
    for item in work["actions"]:
        owner = new_of.get(item.case_id) if item.case_id else None
        if owner is None:
            owner = item.session.supervisor if item.session.supervisor_id != person.id else actor
        item.owner = owner
        audit.record("action.handed_over", item, actor=actor, details={"from": person.id, "to": owner.id})
    db.session.flush()
    counts = {k: len(v) for k, v in work.items()}
    audit.record("line.handed_over", person, actor=actor,
                 details={"counts": counts, "cases": {str(c): w.id for c, w in new_of.items()}})
    received = Counter(w.id for w in new_of.values())
    workers = {w.id: w for w in new_of.values()}
    for uid, n in received.items():
        alerts.notify(workers[uid], "handover_received", path_for("cases.index"),
                      params={"n": n, "from": person.display_name, "by": actor.display_name})
    # The person, their supervisor and the supervisors of everyone who took work over.
    told = {person.id, person.supervisor_id} | {w.supervisor_id for w in workers.values()}
    for uid in sorted(told - {None, actor.id} - set(received)):
        alerts.notify(db.session.get(User, uid), "handover_line", path_for("supervision.line_page"),
                      params={"from": person.display_name, "by": actor.display_name, "n": counts["cases"]})
    return counts


def eligible_for(cases):
    """Active case workers of the schools of these cases, by school id (one query)."""
    from ..models.people import CASEWORK_ROLES
    school_ids = {c.school_id for c in cases}
    out = {s: [] for s in school_ids}
    if not school_ids:
        return out
    for u in db.session.scalars(select(User).where(User.role.in_(CASEWORK_ROLES), User.active.is_(True),
                                                   User.schools.any(School.id.in_(school_ids)))
                                .options(selectinload(User.schools)).order_by(User.display_name)):
        for s in u.schools:
            if s.id in out:
                out[s.id].append(u)
    return out

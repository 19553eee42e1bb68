"""Every route against every role, from one explicit table. A new route without an entry fails.

ALLOW means the role gets past the policy (page shown, or the form is processed: 200, 303, 422);
DENY is 403; LOGIN is a redirect to the sign-in page. POSTs carry an empty form (and the CSRF
header), so an allowed request changes nothing.
"""
from datetime import timedelta

import pytest

ALLOW, DENY, LOGIN, REDIRECT = "allow", "deny", "login", "redirect"

ROLES = ("anon", "teacher", "worker", "peer", "assistant", "practice", "supervisor", "mentor",
         "worker_b", "admin")
CASEWORK = ("worker", "peer", "assistant", "practice", "supervisor", "mentor", "worker_b")
SIGNED_IN = ROLES[1:]


def expect(allow=(), redirect=(), anon=LOGIN):
    table = {r: DENY for r in SIGNED_IN}
    table.update({r: ALLOW for r in allow})
    table.update({r: REDIRECT for r in redirect})
    table["anon"] = anon
    return table


TEAM_A = ("worker", "assistant", "practice", "supervisor", "mentor")       # case A's team and line
SCHOOL_A_CASEWORK = ("worker", "peer", "assistant", "practice", "supervisor", "mentor")
LINE_ABOVE_A = ("assistant", "practice", "supervisor", "mentor")

# endpoint: (method, url(world), expectations)
TABLE = {
    "home.root": ("GET", lambda w: "/", expect(redirect=SIGNED_IN, anon=LOGIN)),
    "home.index": ("GET", lambda w: "/home", expect(allow=SIGNED_IN)),
    "auth.login": ("GET", lambda w: "/login", expect(redirect=SIGNED_IN, anon=ALLOW)),
    "auth.logout": ("POST", lambda w: "/logout", {r: LOGIN for r in ROLES}),
    "auth.password": ("GET", lambda w: "/account/password", expect(allow=SIGNED_IN)),
    "auth.language": ("POST", lambda w: "/language", expect(redirect=SIGNED_IN, anon=REDIRECT)),
    "students.search": ("GET", lambda w: "/students/?q=a", expect(allow=("teacher",) + CASEWORK)),
    "students.show": ("GET", lambda w: f"/students/{w.student_a.id}", expect(allow=SCHOOL_A_CASEWORK)),
    "cases.index": ("GET", lambda w: "/cases/", expect(allow=CASEWORK)),
    "cases.open_case": ("GET", lambda w: f"/cases/open/{w.student_a2.id}", expect(allow=SCHOOL_A_CASEWORK)),
    "cases.show": ("GET", lambda w: f"/cases/{w.case_a.id}", expect(allow=TEAM_A)),
    "cases.timeline_page": ("GET", lambda w: f"/cases/{w.case_a.id}/timeline?page=1", expect(allow=TEAM_A)),
    "cases.change_status": ("POST", lambda w: f"/cases/{w.case_a.id}/status", expect(allow=TEAM_A)),
    "cases.change_risk": ("POST", lambda w: f"/cases/{w.case_a.id}/risk", expect(allow=TEAM_A)),
    "cases.add_member": ("POST", lambda w: f"/cases/{w.case_a.id}/members", expect(allow=TEAM_A)),
    "cases.remove_member": ("POST", lambda w: f"/cases/{w.case_a.id}/members/remove", expect(allow=TEAM_A)),
    "cases.assign": ("POST", lambda w: f"/cases/{w.case_a.id}/assign", expect(allow=LINE_ABOVE_A)),
    "notes.index": ("GET", lambda w: f"/cases/{w.case_a.id}/notes", expect(allow=TEAM_A)),
    "notes.create": ("POST", lambda w: f"/cases/{w.case_a.id}/notes", expect(allow=TEAM_A)),
    "notes.amend": ("GET", lambda w: f"/cases/{w.case_a.id}/notes/{w.note_id}/amend", expect(allow=("worker",))),
    "notes.history": ("GET", lambda w: f"/cases/{w.case_a.id}/notes/{w.note_id}/history", expect(allow=TEAM_A)),
    "notes.upload": ("POST", lambda w: f"/cases/{w.case_a.id}/attachments", expect(allow=TEAM_A)),
    "notes.download": ("GET", lambda w: f"/cases/{w.case_a.id}/attachments/{w.attachment_id}",
                       expect(allow=TEAM_A)),
    # Emergency access to case B: supervisors outside its line (school A's assistant and practice).
    "notes.break_glass": ("GET", lambda w: f"/cases/{w.case_b.id}/break-glass",
                          expect(allow=("assistant", "practice"))),
    "notes.review_grant": ("POST", lambda w: f"/cases/{w.case_a.id}/access-grants/{w.grant_id}/review",
                           expect(allow=LINE_ABOVE_A)),
    "notes.access_log": ("GET", lambda w: f"/cases/{w.case_a.id}/access-log", expect(allow=LINE_ABOVE_A)),
    "concerns.new": ("GET", lambda w: "/concerns/new", expect(allow=("teacher",) + CASEWORK)),
    "concerns.student_options": ("GET", lambda w: "/concerns/student-options?q=a",
                                 expect(allow=("teacher",) + CASEWORK)),
    "concerns.receipt": ("GET", lambda w: f"/concerns/{w.concern_id}/receipt", expect(allow=("teacher",))),
    "concerns.mine": ("GET", lambda w: "/concerns/mine", expect(allow=("teacher",) + CASEWORK)),
    "concerns.triage": ("GET", lambda w: "/concerns/triage", expect(allow=CASEWORK)),
    "concerns.show": ("GET", lambda w: f"/concerns/{w.concern_id}", expect(allow=SCHOOL_A_CASEWORK)),
    "concerns.open_case": ("POST", lambda w: f"/concerns/{w.concern_id}/open-case",
                           expect(allow=SCHOOL_A_CASEWORK)),
    "concerns.link": ("POST", lambda w: f"/concerns/{w.concern_id}/link", expect(allow=SCHOOL_A_CASEWORK)),
    "concerns.no_action": ("POST", lambda w: f"/concerns/{w.concern_id}/no-action",
                           expect(allow=SCHOOL_A_CASEWORK)),
    "alerts.live": ("GET", lambda w: "/live", expect(allow=SIGNED_IN)),
    "alerts.notifications": ("GET", lambda w: "/notifications", expect(allow=SIGNED_IN)),
    "alerts.notifications_read": ("POST", lambda w: "/notifications/read", expect(allow=SIGNED_IN)),
    # the urgent concern alerted school A's case workers and their line
    "alerts.open_alert": ("GET", lambda w: f"/alerts/{w.alert_id}", expect(allow=SCHOOL_A_CASEWORK)),
    "alerts.acknowledge": ("POST", lambda w: f"/alerts/{w.alert_id}/acknowledge",
                           expect(allow=SCHOOL_A_CASEWORK)),
    "casework.record_new": ("GET", lambda w: f"/cases/{w.case_a.id}/records/new", expect(allow=TEAM_A)),
    "casework.record": ("GET", lambda w: f"/cases/{w.case_a.id}/records/{w.record_id}", expect(allow=TEAM_A)),
    "casework.record_review": ("POST", lambda w: f"/cases/{w.case_a.id}/records/{w.record_id}/review",
                               expect(allow=LINE_ABOVE_A)),
    "casework.record_revise": ("POST", lambda w: f"/cases/{w.case_a.id}/records/{w.record_id}/revise",
                               expect(allow=("worker",))),
    "casework.plan_new": ("GET", lambda w: f"/cases/{w.case_a.id}/plans/new", expect(allow=TEAM_A)),
    "casework.plan": ("GET", lambda w: f"/cases/{w.case_a.id}/plans/{w.plan_id}", expect(allow=TEAM_A)),
    "casework.plan_decide": ("POST", lambda w: f"/cases/{w.case_a.id}/plans/{w.plan_id}/decide",
                             expect(allow=LINE_ABOVE_A)),
    "casework.escalate": ("POST", lambda w: f"/cases/{w.case_a.id}/escalate", expect(allow=TEAM_A)),
    "casework.escalation_respond": ("POST", lambda w: f"/escalations/{w.escalation_id}/respond",
                                    expect(allow=LINE_ABOVE_A)),
    "casework.closure_request": ("POST", lambda w: f"/cases/{w.case_a.id}/closure", expect(allow=TEAM_A)),
    "casework.closure_decide": ("POST", lambda w: f"/closures/{w.closure_id}/decide", expect(allow=LINE_ABOVE_A)),
    # case B is closed in the world: its worker and line may reopen it
    "casework.reopen": ("POST", lambda w: f"/cases/{w.case_b.id}/reopen",
                        expect(allow=("worker_b", "supervisor", "mentor"))),
    "casework.assessment_new": ("GET", lambda w: f"/cases/{w.case_a.id}/assessments/new", expect(allow=TEAM_A)),
    "casework.assessment": ("GET", lambda w: f"/cases/{w.case_a.id}/assessments/{w.assessment_id}",
                            expect(allow=TEAM_A)),
    "casework.my_day": ("GET", lambda w: "/my-day", expect(allow=CASEWORK)),
    "casework.review_queue": ("GET", lambda w: "/review",
                              expect(allow=("assistant", "practice", "supervisor", "mentor"))),
    # Crisis on case A (open, started by the worker): the team acts; the line above signs off. The
    # sign-off request is refused (steps are open) but gets past the policy. Any case worker of
    # the student's school may start a crisis.
    "crisis.start": ("GET", lambda w: f"/students/{w.student_a.id}/crisis/new", expect(allow=SCHOOL_A_CASEWORK)),
    "crisis.show": ("GET", lambda w: f"/crisis/{w.crisis_id}", expect(allow=TEAM_A)),
    "crisis.step": ("POST", lambda w: f"/crisis/{w.crisis_id}/steps/safe_now", expect(allow=TEAM_A)),
    "crisis.screen": ("GET", lambda w: f"/crisis/{w.crisis_id}/screen", expect(allow=TEAM_A)),
    "crisis.safety_plan": ("GET", lambda w: f"/crisis/{w.crisis_id}/safety-plan", expect(allow=TEAM_A)),
    "crisis.safety_plan_print": ("GET", lambda w: f"/crisis/{w.crisis_id}/safety-plan/print", expect(allow=TEAM_A)),
    "crisis.follow_up": ("POST", lambda w: f"/crisis/{w.crisis_id}/follow-ups/{w.follow_up_id}",
                         expect(allow=TEAM_A)),
    "crisis.signoff_request": ("POST", lambda w: f"/crisis/{w.crisis_id}/signoff-request", expect(allow=TEAM_A)),
    "crisis.signoff": ("POST", lambda w: f"/crisis/{w.submitted_crisis_id}/signoff",
                       expect(allow=LINE_ABOVE_A)),
    # Family: the team of the student's open case keeps family members and records restrictions (the
    # school's case workers when there is no open case); the line above the case's worker lifts them;
    # contacts and visits are the case team's, and a visit's check-in colleague (peer) sees it.
    "family.guardian_new": ("GET", lambda w: f"/students/{w.student_a.id}/guardians/new", expect(allow=TEAM_A)),
    "family.guardian": ("GET", lambda w: f"/guardians/{w.guardian_id}", expect(allow=TEAM_A)),
    "family.restriction_add": ("POST", lambda w: f"/guardians/{w.guardian_id}/restrictions", expect(allow=TEAM_A)),
    "family.restriction_lift": ("POST", lambda w: f"/restrictions/{w.restriction_id}/lift",
                                expect(allow=LINE_ABOVE_A)),
    "family.contact_new": ("POST", lambda w: f"/cases/{w.case_a.id}/contacts", expect(allow=TEAM_A)),
    "family.family_tab": ("GET", lambda w: f"/cases/{w.case_a.id}/family", expect(allow=TEAM_A)),
    "family.follow_up_done": ("POST", lambda w: f"/contacts/{w.contact_id}/follow-up-done", expect(allow=TEAM_A)),
    "family.visit_new": ("GET", lambda w: f"/cases/{w.case_a.id}/visits/new", expect(allow=TEAM_A)),
    "family.visit": ("GET", lambda w: f"/visits/{w.visit_id}", expect(allow=TEAM_A + ("peer",))),
    "family.visit_action": ("POST", lambda w: f"/visits/{w.visit_id}/check-in", expect(allow=TEAM_A + ("peer",))),
    # Referrals: the district's agency directory is read by case workers and administrators and
    # kept by supervisors and administrators; consent and referrals are the case team's.
    "referrals.agencies": ("GET", lambda w: "/agencies", expect(allow=CASEWORK + ("admin",))),
    "referrals.agency_new": ("GET", lambda w: "/agencies/new", expect(allow=LINE_ABOVE_A + ("admin",))),
    "referrals.agency": ("GET", lambda w: f"/agencies/{w.agency_id}", expect(allow=CASEWORK + ("admin",))),
    "referrals.agency_active": ("POST", lambda w: f"/agencies/{w.agency_id}/active",
                                expect(allow=LINE_ABOVE_A + ("admin",))),
    "referrals.consent_new": ("POST", lambda w: f"/cases/{w.case_a.id}/consents", expect(allow=TEAM_A)),
    "referrals.consent_revoke": ("POST", lambda w: f"/consents/{w.consent_id}/revoke", expect(allow=TEAM_A)),
    "referrals.referral_new": ("GET", lambda w: f"/cases/{w.case_a.id}/referrals/new", expect(allow=TEAM_A)),
    "referrals.show": ("GET", lambda w: f"/referrals/{w.referral_id}", expect(allow=TEAM_A)),
    "referrals.send": ("POST", lambda w: f"/referrals/{w.referral_id}/send", expect(allow=TEAM_A)),
    "referrals.status": ("POST", lambda w: f"/referrals/{w.referral_id}/status", expect(allow=TEAM_A)),
    "referrals.letter": ("GET", lambda w: f"/referrals/{w.referral_id}/letter", expect(allow=TEAM_A)),
    # Group work (a group run by the worker in school A, with student A and a session waiting for
    # review): the facilitators and their line; the session's author's line reviews it. Teachers
    # and administrators see nothing of groups.
    "groups.index": ("GET", lambda w: "/groups", expect(allow=CASEWORK)),
    "groups.new": ("GET", lambda w: "/groups/new", expect(allow=CASEWORK)),
    "groups.show": ("GET", lambda w: f"/groups/{w.group_id}", expect(allow=TEAM_A)),
    "groups.edit": ("GET", lambda w: f"/groups/{w.group_id}/edit", expect(allow=TEAM_A)),
    "groups.end": ("POST", lambda w: f"/groups/{w.group_id}/end", expect(allow=TEAM_A)),
    "groups.student_options": ("GET", lambda w: f"/groups/{w.group_id}/student-options?q=a", expect(allow=TEAM_A)),
    "groups.add_members": ("POST", lambda w: f"/groups/{w.group_id}/members", expect(allow=TEAM_A)),
    "groups.remove_member": ("POST", lambda w: f"/groups/{w.group_id}/members/{w.group_member_id}/remove",
                             expect(allow=TEAM_A)),
    "groups.session_new": ("GET", lambda w: f"/groups/{w.group_id}/sessions/new", expect(allow=TEAM_A)),
    "groups.session": ("GET", lambda w: f"/groups/{w.group_id}/sessions/{w.group_session_id}", expect(allow=TEAM_A)),
    "groups.session_review": ("POST", lambda w: f"/groups/{w.group_id}/sessions/{w.group_session_id}/review",
                              expect(allow=LINE_ABOVE_A)),
    "groups.session_revise": ("POST", lambda w: f"/groups/{w.group_id}/sessions/{w.group_session_id}/revise",
                              expect(allow=("worker",))),
    # Prevention (an assembly organised by the worker in school A, with a file): read by the school's
    # case workers, kept by the organiser and their line; the calendar and figures are each reader's
    # own schools'.
    "prevention.calendar": ("GET", lambda w: "/activities", expect(allow=CASEWORK)),
    "prevention.figures_csv": ("GET", lambda w: "/activities/figures.csv", expect(allow=CASEWORK)),
    "prevention.new": ("GET", lambda w: "/activities/new", expect(allow=CASEWORK)),
    "prevention.show": ("GET", lambda w: f"/activities/{w.activity_id}", expect(allow=SCHOOL_A_CASEWORK)),
    "prevention.edit": ("GET", lambda w: f"/activities/{w.activity_id}/edit", expect(allow=TEAM_A)),
    "prevention.material_upload": ("POST", lambda w: f"/activities/{w.activity_id}/materials", expect(allow=TEAM_A)),
    "prevention.material": ("GET", lambda w: f"/activities/{w.activity_id}/materials/{w.material_id}",
                            expect(allow=SCHOOL_A_CASEWORK)),
    # Privacy and resilience: the health check is public; everyone keeps their own two-factor
    # sign-in and sessions; a legal hold is the line's above the case's worker; a student's record
    # is exported by the supervisors of the student's school.
    "ops.healthz": ("GET", lambda w: "/healthz", expect(allow=SIGNED_IN, anon=ALLOW)),
    "auth.login_code": ("GET", lambda w: "/login/code", expect(redirect=SIGNED_IN, anon=LOGIN)),
    "auth.security": ("GET", lambda w: "/account/security", expect(allow=SIGNED_IN)),
    "auth.mfa_setup": ("GET", lambda w: "/account/two-factor", expect(allow=SIGNED_IN)),
    "auth.mfa_recovery_codes": ("POST", lambda w: "/account/two-factor/recovery-codes", expect(allow=SIGNED_IN)),
    "auth.mfa_disable": ("POST", lambda w: "/account/two-factor/off", expect(allow=SIGNED_IN)),
    "auth.session_end": ("POST", lambda w: "/account/sessions/end", expect(allow=SIGNED_IN)),
    "auth.sessions_end_others": ("POST", lambda w: "/account/sessions/end-others", expect(allow=SIGNED_IN)),
    "admin.user_mfa_reset": ("POST", lambda w: f"/admin/users/{w.peer.id}/two-factor/reset", expect(allow=("admin",))),
    "retention.hold": ("POST", lambda w: f"/cases/{w.case_a.id}/legal-hold", expect(allow=LINE_ABOVE_A)),
    "retention.lift": ("POST", lambda w: f"/cases/{w.case_a.id}/legal-hold/lift", expect(allow=LINE_ABOVE_A)),
    "records.new": ("GET", lambda w: f"/students/{w.student_a.id}/record-request", expect(allow=LINE_ABOVE_A)),
    "records.show": ("GET", lambda w: f"/record-requests/{w.record_request_id}", expect(allow=LINE_ABOVE_A)),
    "records.document": ("GET", lambda w: f"/record-requests/{w.record_request_id}/document",
                         expect(allow=LINE_ABOVE_A)),
    "records.machine_readable": ("GET", lambda w: f"/record-requests/{w.record_request_id}/record.json",
                                 expect(allow=LINE_ABOVE_A)),
    # Supervision. The line: supervisors see their own; the top tiers (supervisor, mentor) move
    # people of their line; anyone above a person hands their work over; the policy is kept by
    # administrators and the top tiers. Sessions (held by the assistant with the worker): the
    # supervisor who held it, its attendees and the line above. The worker's growth plan and
    # performance review (draft) are set by the assistant; a shared review is the worker's to answer.
    "supervision.index": ("GET", lambda w: "/supervision/", expect(allow=CASEWORK)),
    "supervision.line_page": ("GET", lambda w: "/supervision/line", expect(allow=LINE_ABOVE_A)),
    "supervision.policy": ("GET", lambda w: "/supervision/policy", expect(allow=("supervisor", "mentor", "admin"))),
    "supervision.move": ("GET", lambda w: f"/supervision/line/{w.peer.id}/move", expect(allow=("supervisor", "mentor"))),
    "supervision.handover": ("GET", lambda w: f"/supervision/line/{w.peer.id}/handover", expect(allow=LINE_ABOVE_A)),
    "supervision.sessions_list": ("GET", lambda w: "/supervision/sessions", expect(allow=CASEWORK)),
    "supervision.session_new": ("GET", lambda w: "/supervision/sessions/new", expect(allow=LINE_ABOVE_A)),
    "supervision.session": ("GET", lambda w: f"/supervision/sessions/{w.session_id}", expect(allow=TEAM_A)),
    "supervision.session_edit": ("GET", lambda w: f"/supervision/sessions/{w.session_id}/edit",
                                 expect(allow=("assistant",))),
    "supervision.session_case": ("POST", lambda w: f"/supervision/sessions/{w.session_id}/cases",
                                 expect(allow=("assistant",))),
    "supervision.session_action": ("POST", lambda w: f"/supervision/sessions/{w.session_id}/actions",
                                   expect(allow=("assistant",))),
    "supervision.action_done": ("POST", lambda w: f"/supervision/actions/{w.action_id}/done", expect(allow=TEAM_A)),
    "supervision.growth_plans": ("GET", lambda w: "/supervision/growth", expect(allow=CASEWORK)),
    "supervision.growth_new": ("GET", lambda w: "/supervision/growth/new", expect(allow=LINE_ABOVE_A)),
    "supervision.growth_plan": ("GET", lambda w: f"/supervision/growth/{w.growth_id}", expect(allow=TEAM_A)),
    "supervision.growth_progress": ("POST", lambda w: f"/supervision/growth/{w.growth_id}/progress",
                                    expect(allow=TEAM_A)),
    "supervision.growth_goal": ("POST", lambda w: f"/supervision/growth/goals/{w.goal_id}/status",
                                expect(allow=LINE_ABOVE_A)),
    "supervision.growth_review": ("POST", lambda w: f"/supervision/growth/{w.growth_id}/review",
                                  expect(allow=LINE_ABOVE_A)),
    "supervision.reviews": ("GET", lambda w: "/supervision/reviews", expect(allow=CASEWORK)),
    "supervision.review_new": ("GET", lambda w: "/supervision/reviews/new", expect(allow=LINE_ABOVE_A)),
    "supervision.review": ("GET", lambda w: f"/supervision/reviews/{w.review_id}", expect(allow=LINE_ABOVE_A)),
    "supervision.review_assessment": ("POST", lambda w: f"/supervision/reviews/{w.review_id}/assessment",
                                      expect(allow=("assistant",))),
    "supervision.review_comments": ("POST", lambda w: f"/supervision/reviews/{w.shared_review_id}/comments",
                                    expect(allow=("worker",))),
    # De-identified case studies: the case team drafts; a draft is its author's and the author's line's;
    # someone above the author approves; approved studies are read and downloaded by every case worker.
    "casestudies.library": ("GET", lambda w: "/case-studies", expect(allow=CASEWORK)),
    "casestudies.new": ("GET", lambda w: f"/cases/{w.case_a.id}/case-studies/new", expect(allow=TEAM_A)),
    "casestudies.show": ("GET", lambda w: f"/case-studies/{w.study_id}", expect(allow=TEAM_A)),
    "casestudies.edit": ("POST", lambda w: f"/case-studies/{w.draft_study_id}/edit", expect(allow=("worker",))),
    "casestudies.submit": ("POST", lambda w: f"/case-studies/{w.draft_study_id}/submit", expect(allow=("worker",))),
    "casestudies.decide": ("POST", lambda w: f"/case-studies/{w.study_id}/decide", expect(allow=LINE_ABOVE_A)),
    "casestudies.download": ("GET", lambda w: f"/case-studies/{w.approved_study_id}/download",
                             expect(allow=CASEWORK)),
    # Reports: every case worker, scoped to what they may see; never teachers or administrators.
    "reports.index": ("GET", lambda w: "/reports/", expect(allow=CASEWORK)),
    "reports.show": ("GET", lambda w: "/reports/concerns", expect(allow=CASEWORK)),
    "reports.export": ("GET", lambda w: "/reports/crises/export.csv", expect(allow=CASEWORK)),
    "admin.users": ("GET", lambda w: "/admin/users", expect(allow=("admin",))),
    "admin.user_new": ("GET", lambda w: "/admin/users/new", expect(allow=("admin",))),
    "admin.user_edit": ("GET", lambda w: f"/admin/users/{w.worker.id}", expect(allow=("admin",))),
    "admin.user_active": ("POST", lambda w: f"/admin/users/{w.peer.id}/deactivate",
                          expect(allow=("admin",))),
    "admin.schools": ("GET", lambda w: "/admin/schools", expect(allow=("admin",))),
    "admin.school_edit": ("GET", lambda w: f"/admin/schools/{w.a.id}", expect(allow=("admin",))),
    "admin.line": ("GET", lambda w: "/admin/line", expect(allow=("admin",))),
    "admin.students_import": ("GET", lambda w: "/admin/students/import", expect(allow=("admin",))),
}

# POST variants of GET+POST routes are checked too: the policy must guard the write as well.
POST_TOO = {"casework.assessment_new", "cases.open_case", "admin.user_new", "admin.user_edit", "admin.school_edit",
            "admin.students_import", "auth.password", "notes.amend", "notes.break_glass", "concerns.new",
            "casework.record_new", "casework.plan_new", "crisis.start", "crisis.screen", "crisis.safety_plan",
            "family.guardian_new", "family.guardian", "family.visit_new", "referrals.referral_new",
            "referrals.agency_new", "groups.new", "groups.edit", "groups.session_new", "prevention.new",
            "prevention.edit", "auth.login_code", "auth.mfa_setup", "records.new", "supervision.policy",
            "supervision.move", "supervision.session_new", "supervision.session_edit", "supervision.growth_new",
            "supervision.review_new", "casestudies.new"}


@pytest.fixture
def full_world(app, world):
    """The world plus a note, an attachment and an emergency-access grant on case A."""
    from portal.extensions import db
    from portal.models import Case, User
    from portal.notes import services
    with app.app_context():
        case = db.session.get(Case, world.case_a.id)
        worker = db.session.get(User, world.worker.id)
        world.note_id = services.add_note(worker, case, "A note").id
        world.attachment_id = services.add_attachment(worker, case, "x.pdf", b"%PDF-1.4 test").id
        world.grant_id = services.break_glass(db.session.get(User, world.practice_b.id), case,
                                              "Emergency: the student is missing today").id
        from portal import clock
        from portal.concerns.services import file_concern
        from portal.models import Alert
        with app.test_request_context():
            concern, _ = file_concern(db.session.get(User, world.teacher.id), student_id=world.student_a2.id,
                                      categories=["self_harm"], urgency="immediate", observed_at=clock.now(),
                                      description="Said she wants to die", token="t1")
        world.concern_id = concern.id
        world.alert_id = db.session.query(Alert).filter_by(kind="concern_urgent").one().id
        from portal.casework import services as work
        with app.test_request_context():
            world.record_id = work.add_service_record(
                worker, case, occurred_on=clock.now().date(), duration=30, kind="individual",
                participants="", summary="Talked about school", progress="").id
            world.plan_id = work.submit_plan(
                worker, case, goals=[{"goal": "Attend every day", "target": clock.now().date(), "measure": "register"}],
                interventions=[{"what": "Weekly check-in", "who": "worker", "how_often": "weekly"}],
                review_on=clock.now().date()).id
            world.escalation_id = work.escalate(worker, case, "Needs a more experienced eye").id
            world.assessment_id = work.add_assessment(
                worker, case, assessed_on=clock.now().date(), overall_risk="low",
                ratings={a: 2 for a in ("family", "school", "peers", "emotional", "behaviour", "health",
                                        "safety", "strengths")}, narratives={"family": "Lives with mother"}).id
            world.closure_id = work.request_closure(worker, case, reason="goals_met", goals_met="all",
                                                    summary="Goals reached").id
            from portal.crisis import services as crisis
            c = crisis.start_crisis(worker, case.student, crisis_type="suicide_self_harm", account="Said so",
                                    occurred_at=clock.now())
            crisis.save_safety_plan(worker, c, {k: "x" for k in crisis.SAFETY_PLAN_REQUIRED})
            world.crisis_id, world.follow_up_id = c.id, c.follow_ups[0].id
            done = crisis.start_crisis(worker, case.student, crisis_type="family_crisis", account="Bereavement",
                                       occurred_at=clock.now())
            for step in done.steps:
                if step.required:
                    step.status = "done"
            for fu in done.follow_ups:
                fu.status = "done"
            crisis.request_signoff(worker, done, "Resolved")
            world.submitted_crisis_id = done.id
            from portal.family import services as family
            from portal.i18n import local_today
            from portal.models import Student
            student = db.session.get(Student, world.student_a.id)
            g = family.save_guardian(worker, student, name="Li Mei", relationship="mother", legal_responsibility=True,
                                     lives_with_student=True, language="", interpreter_needed=False, phone="",
                                     email="", address="1 Lake Road", contact_times="")
            banned = family.save_guardian(worker, student, name="Wang Gang", relationship="father",
                                          legal_responsibility=True, lives_with_student=False, language="",
                                          interpreter_needed=False, phone="", email="", address="", contact_times="")
            world.guardian_id = g.id
            world.restriction_id = family.add_restriction(worker, banned, kinds=["no_contact"], basis="court_order",
                                                          details="Order of 1 May").id
            world.contact_id = family.log_contact(
                worker, case, guardian_ids=[g.id], occurred_at=clock.now(), method="phone", initiated_by="school",
                purpose="update", reached=True, duration=10, interpreter_used=False, summary="Spoke",
                follow_up_on=local_today()).id
            world.visit_id = family.plan_visit(
                worker, case, visitor=worker, companion=None, checkin_contact=db.session.get(User, world.peer.id),
                planned_at=clock.now(), expected_return_at=clock.now() + timedelta(hours=2), address="1 Lake Road",
                purpose="").id
            from portal.referrals import services as referrals
            agency = referrals.save_agency(db.session.get(User, world.supervisor.id), name="Lakeside CAMHS",
                                           type="mental_health", languages="普通话, English", area="East district")
            world.agency_id = agency.id
            world.consent_id = referrals.record_consent(
                worker, case, agency=agency, given_by=g, method="signed_form", given_on=local_today(),
                expires_on=local_today() + timedelta(days=90), scope=["identity", "reason"], purpose="Assessment").id
            world.referral_id = referrals.create_referral(worker, case, agency=agency, urgency="soon",
                                                          items=["identity", "reason"], reason="Low mood").id
            from portal.groups import services as groups
            from portal.models import School
            group = groups.create_group(worker, db.session.get(School, world.a.id), name="Friends", kind="friendship",
                                        purpose="Friendship skills", planned_sessions=6, starts_on=None, meets=None,
                                        facilitators=[worker])
            world.group_id = group.id
            world.group_member_id = groups.add_members(worker, group, [student])[0].id
            world.group_session_id = groups.record_session(
                worker, group, occurred_on=local_today(), duration=45, topic="Joining in", summary="Games",
                marks={world.group_member_id: ("present", "Joined in")}).id
            from portal.prevention import services as prevention
            activity = prevention.create_activity(
                worker, db.session.get(School, world.a.id), type="assembly", topic="anti_bullying", topic_other="",
                title="Stand up", occurs_on=local_today(), status="held", audience=["students"], grades=["5"],
                classes="", reached=200, materials="", eval_question="", eval_before=[None] * 5,
                eval_after=[None] * 5, notes="")
            world.activity_id = activity.id
            world.material_id = prevention.add_material(worker, activity, "slides.pdf", b"%PDF-1.4 slides").id
            from portal.records import services as records
            world.record_request_id = records.produce(
                db.session.get(User, world.assistant.id), student, requester_kind="legal_representative",
                requester="A lawyer", received_on=clock.now().date()).id
            from portal.supervision import growth, performance, sessions
            assistant = db.session.get(User, world.assistant.id)
            s = sessions.record_session(assistant, kind="individual", held_on=local_today(), duration=45,
                                        attendee_ids=[worker.id], topics="Caseload and the new term")
            world.session_id = s.id
            world.action_id = sessions.add_action(assistant, s, owner=worker, due_on=local_today(),
                                                  text="Update the plan").id
            plan = growth.set_plan(assistant, worker, focus="Family work", starts_on=local_today(),
                                   review_on=local_today() + timedelta(days=90),
                                   goals=[{"goal": "Lead a parent session", "measure": "Held and recorded"}])
            world.growth_id, world.goal_id = plan.id, plan.goals[0].id
            world.review_id = performance.start_review(assistant, worker, local_today() - timedelta(days=30),
                                                       local_today()).id
            shared = performance.start_review(assistant, worker, local_today() - timedelta(days=60),
                                              local_today() - timedelta(days=31))
            performance.save_assessment(assistant, shared, "Steady work", share_now=True)
            world.shared_review_id = shared.id
            from portal.casestudies import services as studies
            study = studies.create(worker, case, title="", sections=list(studies.SECTIONS))
            studies.submit(worker, study)
            world.study_id = study.id
            world.draft_study_id = studies.create(worker, case, title="", sections=["plan"]).id
            approved = studies.create(worker, case, title="", sections=["records"])
            studies.submit(worker, approved)
            studies.decide(assistant, approved, "approve", "")
            world.approved_study_id = approved.id
            from portal.cases import services as case_services
            case_b = db.session.get(Case, world.case_b.id)
            case_services.close_case(db.session.get(User, world.worker_b.id), case_b)
        db.session.commit()
    return world


def test_every_route_has_an_expectation(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint != "static"}
    missing = endpoints - set(TABLE)
    assert not missing, f"routes without an access expectation: {sorted(missing)}"
    assert not set(TABLE) - endpoints, "expectations for routes that no longer exist"


def _outcome(resp):
    if resp.status_code == 403:
        return DENY
    if resp.status_code in (302, 303):
        return LOGIN if "/login" in resp.headers["Location"] else REDIRECT
    if resp.status_code in (200, 204, 400, 409, 422):
        return ALLOW
    return f"status {resp.status_code}"


@pytest.mark.parametrize("endpoint", sorted(TABLE))
def test_route_by_role(endpoint, app, full_world, login):
    world = full_world
    method, url_of, expected = TABLE[endpoint]
    url = url_of(world)
    methods = [method] + (["POST"] if endpoint in POST_TOO else [])
    got = {}
    for m in methods:
        for role in ROLES:
            client = app.test_client() if role == "anon" else login(getattr(world, role))
            if m == "GET":
                resp = client.get(url)
            else:
                resp = client.post_form(url, {})
            want, outcome = expected[role], _outcome(resp)
            if want == ALLOW and outcome == REDIRECT:
                outcome = ALLOW  # the form was processed and the view redirected: still allowed
            got[(m, role)] = (outcome, want)
    wrong = {k: v for k, v in got.items() if v[0] != v[1]}
    assert not wrong, f"{endpoint} {url}: (got, expected) {wrong}"


def test_refusal_is_audited(app, world, login):
    from portal.extensions import db
    from portal.models import AuditEvent
    client = login(world.worker_b)
    assert client.get(f"/cases/{world.case_a.id}").status_code == 403
    with app.app_context():
        ev = db.session.query(AuditEvent).filter_by(action="access.denied").one()
        assert ev.actor_id == world.worker_b.id
        assert ev.object_type == "cases" and ev.object_id == str(world.case_a.id)
        assert ev.details["action"] == "case.view"


def test_unknown_ids_are_404_not_500(world, login):
    c = login(world.worker)
    for url in ("/cases/999999", "/students/999999", "/cases/open/999999", "/cases/999999/timeline"):
        assert c.get(url).status_code == 404, url
    assert login(world.admin).get("/admin/users/999999").status_code == 404

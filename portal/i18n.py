"""Language choice: the user's setting, else the browser's preference; helpers for templates."""
from flask import current_app, has_request_context, request, session, url_for
from flask_babel import format_date, format_datetime, get_locale, lazy_gettext as _l, lazy_pgettext
from flask_login import current_user

# Labels for stored codes, translated at display time.
LABELS = {
    "role": {
        "teacher": _l("Teacher"),
        "social_worker": _l("Social worker"),
        "assistant_supervisor": _l("Assistant supervisor"),
        "practice_supervisor": _l("Practice supervisor"),
        "supervisor": _l("Supervisor"),
        "supervisor_mentor": _l("Supervisor-mentor"),
        "admin": _l("Administrator"),
    },
    "case_status": {
        "intake": _l("Intake"),
        "assessment": _l("Assessment"),
        "planning": _l("Planning"),
        "active": _l("Active"),
        "review": _l("Review"),
        "closed": _l("Closed"),
    },
    "concern_category": {
        "emotional": _l("Emotional wellbeing"),
        "self_harm": _l("Self-harm or suicide risk"),
        "bullying": _l("Bullying"),
        "family": _l("Family situation"),
        "attendance": _l("Attendance"),
        "behaviour": _l("Behaviour"),
        "abuse": _l("Suspected abuse or neglect"),
        "health": _l("Physical health"),
        "other": _l("Other"),
    },
    "urgency": {
        "immediate": _l("Immediate danger"),
        "today": _l("Today"),
        "week": _l("Within a week"),
        "routine": _l("Routine"),
    },
    "reporter_status": {
        "received": _l("Received"),
        "handling": _l("Being handled"),
        "closed": lazy_pgettext("concern report", "Closed"),
    },
    "service_kind": {
        "individual": _l("Individual session"),
        "group": _l("Group session"),
        "family": _l("Family session"),
        "classroom": _l("Classroom activity"),
        "consultation": _l("Consultation"),
        "phone": _l("Phone call"),
    },
    "review_state": {
        "submitted": _l("Awaiting review"),
        "returned": _l("Returned for revision"),
        "accepted": _l("Accepted"),
        "approved": _l("Approved"),
        "superseded": _l("Superseded"),
    },
    "assessment_area": {
        "family": _l("Family"),
        "school": _l("School and learning"),
        "peers": _l("Peers"),
        "emotional": _l("Emotional wellbeing"),
        "behaviour": _l("Behaviour"),
        "health": _l("Health"),
        "safety": _l("Safety"),
        "strengths": _l("Strengths"),
    },
    "rating": {
        1: _l("A strength"),
        2: _l("No concern"),
        3: _l("Some concern"),
        4: _l("Serious concern"),
    },
    "closure_reason": {
        "goals_met": _l("Goals met"),
        "no_longer_needed": _l("Support no longer needed"),
        "referred_on": _l("Referred to another service"),
        "moved_school": _l("Student left the school"),
        "family_declined": _l("Family declined further work"),
        "other": _l("Other"),
    },
    "goals_met": {
        "all": _l("All goals met"),
        "partly": _l("Some goals met"),
        "none": _l("Goals not met"),
    },
    "agency_type": {
        "mental_health": _l("Mental health"),
        "child_protection": _l("Child protection"),
        "medical": _l("Medical"),
        "family_services": _l("Family services"),
        "youth_services": _l("Youth services"),
        "legal_aid": _l("Legal aid"),
        "housing_income": _l("Housing and income"),
        "disability": _l("Disability"),
        "substance_use": _l("Substance use"),
        "other": lazy_pgettext("agency type", "Other"),
    },
    "info_item": {
        "identity": _l("Name, date of birth and school"),
        "guardian_contact": _l("Guardians' contact details"),
        "reason": _l("Why the student is referred"),
        "assessment_summary": _l("Summary of the school's assessment"),
        "risk_information": _l("Risk and safety information"),
        "school_report": _l("Attendance and school report"),
        "health_information": _l("Health information"),
        "student_record": _l("The student's record (a record request)"),
    },
    "consent_method": {
        "signed_form": _l("Signed form"),
        "verbal_witnessed": _l("Verbal, with a witness"),
    },
    "referral_urgency": {
        "routine": _l("Routine"),
        "soon": _l("Within two weeks"),
        "urgent": _l("Urgent"),
    },
    "exemption": {
        "mandated_report": _l("Mandated report (no consent needed)"),
        "emergency": _l("Emergency: a threat to life or health"),
        "record_request": _l("Record request (right of access)"),
    },
    "requester": {
        "guardian": _l("A parent or guardian"),
        "student": _l("The student"),
        "legal_representative": _l("A legal representative"),
    },
    # What a record export holds back, and why (shown on the document and its summary).
    "withheld": {
        "cases_outside_line": _l("Cases outside your supervision line (ask a supervisor above their worker)"),
        "restricted_notes": _l("Restricted notes (the author's supervision line only)"),
        "restricted_family_members": _l("Family members under a contact restriction"),
        "family_contact_details": _l("Family members' contact details (other people's data)"),
        "family_contact_summaries": _l("What was said in contacts with the family (other people's words)"),
        "concern_accounts": _l("Reporters' accounts of concerns, and who reported them"),
        "crisis_protective_steps": _l("Protective steps of crises (they could put the student at risk)"),
        "protective_disclosures": _l("Shares made without consent (mandated reports, emergencies) or from cases "
                                     "not included"),
    },
    # The fields of structured case records, as the record export shows them.
    "record_field": {
        "goal": _l("Goal"),
        "target": _l("Target date"),
        "measure": _l("How we will know"),
        "what": _l("Intervention"),
        "who": _l("Responsible"),
        "how_often": _l("How often"),
    },
    "retention_kind": {
        "case": _l("Closed case"),
        "child_protection": _l("Child-protection case"),
        "concern": _l("Concern closed without action"),
        "student": _l("Student record"),
    },
    "referral_state": {
        "draft": _l("Draft"),
        "sent": lazy_pgettext("referral", "Sent"),
        "acknowledged": _l("Acknowledged by the agency"),
        "accepted": _l("Accepted"),
        "waitlisted": _l("On the waiting list"),
        "declined": _l("Declined by the agency"),
        "first_appointment": _l("First appointment"),
        "in_service": _l("In service"),
        "closed": lazy_pgettext("referral", "Closed"),
        "withdrawn": _l("Withdrawn before sending"),
    },
    "referral_outcome": {
        "engaged_helped": _l("Engaged and helped"),
        "did_not_engage": _l("Did not engage"),
        "declined_by_family": _l("Declined by the family"),
        "transferred": _l("Transferred"),
        "other": lazy_pgettext("referral outcome", "Other"),
    },
    "visit_state": {
        "planned": _l("planned"),
        "returned": _l("back, checked in"),
        "cancelled": _l("cancelled"),
    },
    "restriction_kind": {
        "no_contact": _l("No contact"),
        "no_information": _l("No information to be shared"),
        "no_pickup": _l("No pick-up"),
    },
    "restriction_basis": {
        "court_order": _l("Court order"),
        "safeguarding": _l("Safeguarding decision"),
        "other": lazy_pgettext("restriction basis", "Other"),
    },
    "contact_method_family": {
        "phone": _l("Phone call"),
        "message": _l("Message"),
        "letter": _l("Letter"),
        "school_meeting": _l("Meeting at school"),
        "home_visit": _l("Home visit"),
        "video": _l("Video call"),
        "parent_interview": _l("Parent interview"),
        "parent_training": _l("Parent training session"),
    },
    "contact_purpose": {
        "update": _l("Keeping the family informed"),
        "concern": _l("A concern about the student"),
        "plan": _l("The case plan"),
        "crisis": _l("A crisis"),
        "attendance": _l("Attendance"),
        "consent": _l("Consent"),
        "other": lazy_pgettext("contact purpose", "Other"),
    },
    "initiator": {
        "school": _l("We did"),
        "family": _l("The family did"),
        "other": lazy_pgettext("initiator", "Someone else"),
    },
    "crisis_type": {
        "suicide_self_harm": _l("Suicide or self-harm risk"),
        "harm_to_others": _l("Risk of harm to others"),
        "abuse_neglect": _l("Abuse or neglect disclosure"),
        "bullying_violence": _l("Serious bullying or violence"),
        "family_crisis": _l("Family crisis (bereavement, domestic violence, homelessness)"),
        "missing_student": _l("Missing student"),
        "other": lazy_pgettext("crisis type", "Other"),
    },
    "crisis_state": {
        "open": _l("In progress"),
        "submitted": _l("Awaiting sign-off"),
        "closed": lazy_pgettext("crisis", "Closed"),
    },
    "crisis_step": {
        "safe_now": _l("The student is safe and supervised now"),
        "risk_screen": _l("Suicide-risk screen"),
        "emergency": _l("Emergency services or hospital"),
        "guardian": _l("Guardian notified"),
        "mandated_report": _l("Mandated report to the authorities"),
        "hearing": _l("Both students heard and actions decided"),
        "families_outcome": _l("Both families told the outcome"),
        "safety_plan": _l("Safety plan written with the student"),
        "reentry": _l("Re-entry meeting"),
    },
    "step_state": {
        "pending": _l("To do"),
        "done": _l("Done"),
        "waived": _l("Waived with a reason"),
    },
    "screen_level": {
        "none": _l("no risk identified"),
        "low": _l("low risk"),
        "moderate": _l("moderate risk"),
        "high": _l("high risk"),
    },
    "emergency_service": {
        "police": _l("Police"),
        "ambulance": _l("Ambulance"),
        "hospital": _l("Hospital emergency department"),
        "crisis_team": _l("Mental-health crisis team"),
        "other": lazy_pgettext("emergency service", "Other"),
    },
    "contact_method": {
        "phone": _l("Phone call"),
        "in_person": _l("In person"),
        "video": _l("Video call"),
        "message": _l("Written message"),
    },
    "safety_plan_section": {
        "warning_signs": _l("1. Warning signs that a crisis may be developing"),
        "internal_coping": _l("2. Things I can do on my own to take my mind off my problems"),
        "distraction": _l("3. People and places that help me feel better"),
        "help_people": _l("4. Family members or friends I can ask for help"),
        "professionals": _l("5. Professionals and crisis lines I can contact"),
        "safe_environment": _l("6. Making my surroundings safe"),
        "reasons_for_living": _l("The most important thing to me, worth living for"),
    },
    "escalation_state": {
        "open": _l("Waiting for an answer"),
        "advised": _l("Advised"),
        "taken_over": _l("Taken over"),
        "forwarded": _l("Sent further up"),
    },
    "review_action": {
        "submitted": _l("submitted"),
        "revised": _l("revised and resubmitted"),
        "returned": _l("returned with comments"),
        "accepted": _l("accepted"),
        "approved": _l("approved"),
    },
    "group_kind": {
        "social_skills": _l("Social skills"),
        "friendship": _l("Friendship"),
        "anger": _l("Managing anger"),
        "grief": _l("Grief and loss"),
        "self_esteem": _l("Self-esteem"),
        "other": lazy_pgettext("group kind", "Other"),
    },
    "group_state": {
        "active": _l("Running"),
        "ended": _l("Ended"),
    },
    "attendance": {
        "present": _l("present"),
        "absent": _l("absent"),
        "excused": _l("excused"),
    },
    "activity_type": {
        "class_talk": _l("Class talk"),
        "assembly": _l("Assembly"),
        "campaign": _l("Campaign"),
        "parent_workshop": _l("Parent workshop"),
        "staff_training": _l("Staff training"),
        "mh_week_event": _l("Mental-health week event"),
    },
    "activity_topic": {
        "anti_bullying": _l("Anti-bullying"),
        "emotional_wellbeing": _l("Emotional wellbeing"),
        "safety": _l("Safety"),
        "substance_use": _l("Substance use"),
        "law": _l("Law education"),
        "online_safety": _l("Online safety"),
        "other": lazy_pgettext("activity topic", "Other"),
    },
    "audience": {
        "students": _l("Students"),
        "parents": _l("Parents"),
        "staff": _l("Staff"),
    },
    "activity_state": {
        "planned": _l("Planned"),
        "held": _l("Held"),
        "cancelled": _l("Cancelled"),
    },
    "session_kind": {
        "individual": _l("Individual supervision"),
        "group": _l("Group supervision"),
    },
    "action_state": {
        "open": lazy_pgettext("action item", "Open"),
        "done": _l("Done"),
    },
    "goal_state": {
        "open": _l("In progress"),
        "met": _l("Met"),
        "dropped": _l("Dropped"),
    },
    "growth_state": {
        "active": _l("In force"),
        "reviewed": _l("Reviewed"),
    },
    "performance_state": {
        "draft": _l("Draft"),
        "shared": _l("Shared with the supervisee"),
        "acknowledged": _l("Commented by the supervisee"),
    },
    "study_state": {
        "draft": _l("Draft"),
        "submitted": _l("Awaiting approval"),
        "returned": _l("Returned for revision"),
        "approved": _l("Approved"),
    },
    "risk": {
        "low": _l("Low"),
        "moderate": _l("Moderate"),
        "high": _l("High"),
    },
}


def label(kind: str, code) -> str:
    return str(LABELS.get(kind, {}).get(code, code or ""))


def _datetime(d, fmt=None):
    from flask_babel import format_date, format_time
    if fmt:
        return format_datetime(d, fmt)
    return f"{format_date(d, 'medium')} {format_time(d, 'short')}"


def local_date(moment):
    """The school's calendar day (PORTAL_TIMEZONE) of a stored UTC time, also outside a request."""
    from datetime import timezone
    from zoneinfo import ZoneInfo

    from flask import has_app_context
    zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC") if has_app_context() else "UTC"
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)).date()


def utc_bounds(first_day, last_day):
    """The stored (naive UTC) instants from the start of first_day to the end of last_day on the
    school's clock: [start, end) for filtering stored times by local calendar days."""
    from datetime import datetime, time, timedelta, timezone
    from zoneinfo import ZoneInfo

    from flask import has_app_context
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC") if has_app_context() else "UTC")

    def utc(day):
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)
    return utc(first_day), utc(last_day + timedelta(days=1))


def local_today():
    """Today on the school's clock: what "today" and "in the past" mean to people."""
    from . import clock
    return local_date(clock.now())


def names(items) -> str:
    """A list of names as the language writes it ("A, B and C" / "A、B和C")."""
    from babel.lists import format_list
    items = [str(i) for i in items]
    return format_list(items, locale=get_locale()) if items else ""


_BROWSERS = (("Edg/", "Edge"), ("MicroMessenger", "WeChat"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def browser_name(user_agent) -> str:
    """A session's browser in a word or two ("Chrome · Windows"), from its user agent."""
    from flask_babel import gettext as _
    ua = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in ua), None)
    system = next((name for mark, name in _SYSTEMS if mark in ua), None)
    parts = [p for p in (browser, system) if p]
    return " · ".join(parts) if parts else _("Unknown browser")


def age(delta) -> str:
    """How long something has waited, in the largest sensible unit ("3 h", "2 d")."""
    from babel.dates import format_timedelta
    return format_timedelta(delta, threshold=1, granularity="minute", format="short", locale=get_locale())


def select_locale():
    langs = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in langs:
        return current_user.locale
    if session.get("locale") in langs:
        return session["locale"]
    return request.accept_languages.best_match(list(langs), default="en")


def register(app):
    from .permissions import can

    def allowed(action, obj=None):
        return can(current_user, action, obj)

    def url_with(**overrides):
        """The current URL with some query arguments replaced (pagination, filters)."""
        args = request.args.to_dict()
        args.update(overrides)
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    def config_categories():
        return [(c, label("concern_category", c)) for c in LABELS["concern_category"]]

    app.jinja_env.globals.update(label=label, allowed=allowed, url_with=url_with,
                                 get_locale=get_locale, config_categories=config_categories, age=age)
    app.jinja_env.filters["category_label"] = lambda code: label("concern_category", code)
    app.jinja_env.filters["restriction_label"] = lambda code: label("restriction_kind", code)
    app.jinja_env.filters["info_item_label"] = lambda code: label("info_item", code)
    app.jinja_env.filters["names"] = names
    app.jinja_env.filters["browser_name"] = browser_name
    app.jinja_env.filters["date"] = lambda d, fmt="medium": format_date(d, fmt) if d else ""
    # A medium date and a short time read unambiguously in both languages, without seconds.
    app.jinja_env.filters["datetime"] = lambda d, fmt=None: _datetime(d, fmt) if d else ""

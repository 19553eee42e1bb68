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


def names(items) -> str:
    """A list of names as the language writes it ("A, B and C" / "A、B和C")."""
    from babel.lists import format_list
    items = [str(i) for i in items]
    return format_list(items, locale=get_locale()) if items else ""


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
    app.jinja_env.filters["names"] = names
    app.jinja_env.filters["date"] = lambda d, fmt="medium": format_date(d, fmt) if d else ""
    # A medium date and a short time read unambiguously in both languages, without seconds.
    app.jinja_env.filters["datetime"] = lambda d, fmt=None: _datetime(d, fmt) if d else ""

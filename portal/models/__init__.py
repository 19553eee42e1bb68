"""All models, imported here so Alembic and the app see one metadata."""
from .audit import AuditEvent, AuditHead
from .cases import Case, CaseMember, TimelineEntry
from .casework import Assessment, CasePlan, Closure, Escalation, ReviewEntry, ServiceRecord
from .alerts import Alert, AlertRecipient, Notification
from .concerns import Concern
from .crisis import Crisis, CrisisStep, FollowUp, RiskScreen, SafetyPlan
from .family import ContactPerson, ContactRestriction, FamilyContact, HomeVisit
from .groups import GroupAttendance, GroupFacilitator, GroupMember, GroupSession, StudentGroup
from .prevention import ActivityMaterial, PreventionActivity
from .referrals import Agency, Consent, Disclosure, Referral, ReferralEvent
from .keys import DataKey
from .notes import AccessGrant, Attachment, Note, NoteVersion
from .people import LoginSession, RecoveryCode, School, User, user_schools
from .privacy import Erasure, LegalHold, RecordRequest
from .students import Guardian, Student
from .supervision import (ActionItem, CaseStudy, GrowthGoal, GrowthPlan, GrowthProgress, LinePolicy,
                          PerformanceReview, SessionCase, SupervisionSession, session_attendees)

__all__ = [
    "Alert", "AlertRecipient", "Concern", "Crisis", "CrisisStep", "FollowUp", "RiskScreen", "SafetyPlan",
    "ContactPerson", "ContactRestriction", "FamilyContact", "HomeVisit",
    "GroupAttendance", "GroupFacilitator", "GroupMember", "GroupSession", "StudentGroup",
    "ActivityMaterial", "PreventionActivity",
    "Agency", "Consent", "Disclosure", "Referral", "ReferralEvent", "Notification", "Assessment", "CasePlan", "Closure", "Escalation", "ReviewEntry", "ServiceRecord",
    "AccessGrant", "Attachment", "AuditEvent", "AuditHead", "Case", "CaseMember", "DataKey", "Guardian", "LoginSession", "Note", "NoteVersion",
    "School", "Student", "RecoveryCode", "Erasure", "LegalHold", "RecordRequest", "TimelineEntry", "User", "user_schools",
    "ActionItem", "CaseStudy", "GrowthGoal", "GrowthPlan", "GrowthProgress", "LinePolicy", "PerformanceReview",
    "SessionCase", "SupervisionSession", "session_attendees",
]

"""Finding students within what a user may see."""
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from ..models import Student
from ..permissions import school_ids

MAX_QUERY = 60


def search_statement(user, q: str):
    """Active students of the user's schools matching a name or student number."""
    q = (q or "").strip()[:MAX_QUERY]
    stmt = (select(Student).where(Student.school_id.in_(school_ids(user)), Student.active.is_(True))
            .options(joinedload(Student.school)))
    if q:
        like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        full_cjk = func.lower(Student.family_name + Student.given_name)
        full_latin = func.lower(Student.given_name + " " + Student.family_name)
        stmt = stmt.where(or_(
            full_cjk.like(like, escape="\\"), full_latin.like(like, escape="\\"),
            func.lower(Student.family_name).like(like, escape="\\"),
            func.lower(Student.student_number).like(like, escape="\\"),
        ))
    return stmt.order_by(Student.family_name, Student.given_name, Student.id), q

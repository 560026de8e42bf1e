"""Who may see and change what, in one place. A course is its teacher's: they and admins manage
it; students who joined it read it, chat with it and take its quizzes; anyone else is told it
does not exist (404), so course ids leak nothing. Jobs and datasets are their starter's."""

from __future__ import annotations

from sqlalchemy.orm import Session

from profai.db import accounts_repo, courses_repo
from profai.db.models import Course
from profai.domain import Principal
from profai.errors import Forbidden, NotFound


def course_for(session: Session, who: Principal, course_id: int, *, manage: bool = False) -> Course:
    """The course (row only) if `who` may read it, or manage it when `manage`; else 404 (or 403 for
    a student of the course asking to manage it)."""
    course = courses_repo.head(session, course_id)
    if course is None or not can_read(session, who, course):
        raise NotFound(f"Course {course_id} not found", code="course_not_found")
    if manage and not manages(who, course):
        raise Forbidden("Only the course's teacher can do this", code="teachers_only")
    return course


def manages(who: Principal, course: Course) -> bool:
    return who.is_admin or (who.user_id is not None and course.owner_id == who.user_id)


def can_read(session: Session, who: Principal, course: Course) -> bool:
    return manages(who, course) or (
        who.user_id is not None and accounts_repo.is_enrolled(session, course.id, who.user_id))


def owns(who: Principal, owner_id: int | None) -> bool:
    """A job or dataset: its starter's, and every admin's."""
    return who.is_admin or (who.user_id is not None and owner_id == who.user_id)


def listing_scope(who: Principal) -> dict[str, int | None]:
    """Filters for course lists: admins all, teachers their own, students those they joined."""
    if who.is_admin:
        return {}
    if who.is_teacher:
        return {"owner_id": who.user_id}
    return {"student_id": who.user_id}


def require_teacher(who: Principal) -> None:
    if not (who.is_admin or who.is_teacher):
        raise Forbidden("Only teachers and admins can do this", code="teachers_only")

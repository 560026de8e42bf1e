"""The reads behind the live feed (GET /api/events): a user's jobs that changed, and the courses
they list. Each runs as one statement on the autocommit engine, since every open feed repeats
them about once a second."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, false, or_, select

from profai.db.engine import fetch_all
from profai.db.jobs_repo import PENDING, RUNNING, STATUS_COLUMNS
from profai.db.models import Course, Job

# The newest courses a feed compares from one look to the next; past this an admin's list still
# loads whole from GET /api/courses, the feed just does not report changes to the oldest ones.
MAX_COURSES = 1000


def jobs(engine: Engine, owner_id: int | None, *, everyone: bool, since: datetime,
         tracked: Sequence[str]) -> list[Any]:
    """Status rows (a status read's columns, and the payload) of the top-level jobs (not parts) of
    `owner_id`, or of everyone, that are unfinished, were updated after `since`, or are in
    `tracked` (those the feed last saw unfinished: so a job that finished is seen finishing
    whatever the clocks of the processes that wrote it say)."""
    q = select(*STATUS_COLUMNS, Job.payload)  # what a status read shows, and the title the job was given
    q = q.where(Job.parent_id.is_(None), or_(
        Job.status.in_((PENDING, *RUNNING)), Job.updated_at > since,
        Job.id.in_(bindparam("tracked", expanding=True)) if tracked else false()))
    if not everyone:
        q = q.where(Job.owner_id == owner_id)
    return fetch_all(engine, q.order_by(Job.created_at), {"tracked": list(tracked)} if tracked else {})


def courses(engine: Engine, owner_id: int | None, *, everyone: bool) -> list[Any]:
    """(id, title, indexed_at) of the newest MAX_COURSES courses of `owner_id`, or of everyone."""
    q = select(Course.id, Course.title, Course.indexed_at)
    if not everyone:
        q = q.where(Course.owner_id == owner_id)
    return fetch_all(engine, q.order_by(Course.id.desc()).limit(MAX_COURSES), {})

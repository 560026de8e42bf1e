"""What a signed-in teacher's live feed reports: changes of their jobs and of their course list.

The feed reads the database, never this process's memory, so it sees jobs run by any worker and
changes made through any API process. Who sees what is what the rest of the API shows: a teacher
their own jobs and courses, an admin every job and course (as GET /api/jobs/{id} and GET
/api/courses allow them). Each look is two cheap reads; an event goes out only when something a
client shows has changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from profai.db import feed_repo
from profai.db.jobs_repo import FINISHED
from profai.db.models import utcnow
from profai.domain import Principal
from profai.services.deps import HasReads

# Finished jobs are looked for this far back, so a job whose writer's clock runs a little behind
# ours, or which started and ended between two looks, is still reported (once: changes are
# compared with what was sent).
LOOKBACK = timedelta(seconds=10)

Event = tuple[str, dict[str, Any]]


class FeedDeps(HasReads, Protocol):
    """What the feed uses of the wiring."""


def job_event(row: Any) -> dict[str, Any]:
    """A job as the feed shows it: its status and progress, and the course it made, if any."""
    result, payload = row.result or {}, row.payload or {}
    title = payload.get("course_title") or payload.get("namespace") or ""
    return {"job_id": row.id, "kind": row.kind, "status": row.status, "progress": row.progress,
            "message": row.message, "step": row.step, "step_progress": row.step_progress,
            "title": str(title)[:300], "course_id": result.get("course_id"), "error": row.error,
            "error_code": row.error_code, "finished": row.status in FINISHED,
            "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat()}


@dataclass
class Feed:
    """One open feed's memory of what it has sent."""

    who: Principal
    since: datetime = field(default_factory=utcnow)
    sent: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # job id -> what was sent of it
    unfinished: set[str] = field(default_factory=set)
    courses: dict[int, tuple[str, bool]] | None = None  # id -> (title, search_ready); None: not looked yet

    def look(self, ctx: FeedDeps, *, courses: bool) -> list[Event]:
        """The events since the last look (on the first: every unfinished job); the course list
        is compared too when `courses` (or when a job may have changed it)."""
        everyone = self.who.is_admin
        now = utcnow()
        rows = feed_repo.jobs(ctx.reads, self.who.user_id, everyone=everyone, since=self.since,
                              tracked=sorted(self.unfinished))
        self.since = now - LOOKBACK
        events: list[Event] = []
        for row in rows:
            event = job_event(row)
            key = tuple(event[k] for k in ("status", "progress", "message", "step", "step_progress", "course_id",
                                           "error_code"))
            if self.sent.get(row.id) == key:
                continue
            self.sent[row.id] = key
            events.append(("job", event))
            courses = courses or event["course_id"] is not None or event["finished"]
            (self.unfinished.discard if event["finished"] else self.unfinished.add)(row.id)
        # Forget finished jobs that have left the lookback window: they are not asked for again.
        current = {row.id for row in rows}
        self.sent = {k: v for k, v in self.sent.items() if k in current or k in self.unfinished}
        if courses or self.courses is None:
            events += self._courses(ctx, everyone)
        return events

    def _courses(self, ctx: FeedDeps, everyone: bool) -> list[Event]:
        rows = feed_repo.courses(ctx.reads, self.who.user_id, everyone=everyone)
        now = {row.id: (row.title, row.indexed_at is not None) for row in rows}
        before, self.courses = self.courses, now
        if before is None:  # the first look: the client loads the list itself
            return []
        events: list[Event] = []
        for course_id, (title, ready) in now.items():
            if before.get(course_id) != (title, ready):
                action = "created" if course_id not in before else "updated"
                events.append(("course", {"action": action, "course_id": course_id, "title": title,
                                          "search_ready": ready}))
        events += [("course", {"action": "deleted", "course_id": course_id})
                   for course_id in before.keys() - now.keys()]
        return events

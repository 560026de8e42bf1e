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

# ("job", a row of feed_repo.jobs) or ("course", what changed of a course).
Event = tuple[str, Any]
# What a client shows of a job: an event goes out when one of these changes.
SHOWN = ("status", "progress", "message", "step", "step_progress", "error_code")


class FeedDeps(HasReads, Protocol):
    """What the feed uses of the wiring."""


def _shown(row: Any) -> tuple[Any, ...]:
    return (*(getattr(row, name) for name in SHOWN), (row.result or {}).get("course_id"))


@dataclass
class Feed:
    """One open feed's memory of what it has sent."""

    who: Principal
    since: datetime = field(default_factory=utcnow)
    sent: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # job id -> _shown() of it, as sent
    courses: dict[int, tuple[str, bool]] | None = None  # id -> (title, search_ready); None: not looked yet

    def look(self, ctx: FeedDeps, *, courses: bool) -> list[Event]:
        """The events since the last look (on the first: every unfinished job); the course list
        is compared too when `courses` (or when a job may have changed it)."""
        everyone = self.who.is_admin
        now = utcnow()
        unfinished = sorted(job_id for job_id, seen in self.sent.items() if seen[0] not in FINISHED)
        rows = feed_repo.jobs(ctx.reads, self.who.user_id, everyone=everyone, since=self.since, tracked=unfinished)
        # What is kept is this look's jobs: a finished one that has left the lookback window is
        # forgotten (it is not asked for again).
        shown = {row.id: _shown(row) for row in rows}
        events: list[Event] = [("job", row) for row in rows if self.sent.get(row.id) != shown[row.id]]
        courses = courses or any(shown[row.id][-1] is not None or row.status in FINISHED for _, row in events)
        if courses or self.courses is None:
            events += self._courses(ctx, everyone)
        # Only once every read has been done: after a failed one the next look starts from here again.
        self.since, self.sent = now - LOOKBACK, shown
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

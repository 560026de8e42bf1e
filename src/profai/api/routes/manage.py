"""Managing courses and following jobs live: rename a course, and the live feed of a teacher's
jobs and courses (GET /api/events, server-sent events) that keeps every open tab up to date."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from profai.api import event_stream
from profai.api.deps import CtxDep, Teacher, User, identify
from profai.api.errors import responses
from profai.api.event_stream import HEARTBEAT, STREAMS, EventStream, frame, wait_for
from profai.api.ids import CourseId
from profai.domain import Principal
from profai.errors import ProfAIError
from profai.schemas.manage import CourseRename, CourseTitle, JobEvent
from profai.services import courses as course_service
from profai.services.live_feed import Feed
from profai.wiring import Container

router = APIRouter(prefix="/api", tags=["courses"])
log = logging.getLogger(__name__)

# One look at the database a second per open feed; the course list every COURSE_EVERY looks (and
# at once when a job may have changed it). A comment line every HEARTBEAT_SECONDS of silence.
POLL_SECONDS = 1.0
COURSE_EVERY = 2
HEARTBEAT_SECONDS = 15.0
# The credentials are checked again this often (in looks): a feed stops once its session is signed
# out, its key revoked or its user disabled, as their next request would.
CHECK_EVERY = 30


@router.patch("/courses/{course_id}", response_model=CourseTitle, responses=responses(422))
def rename_course(ctx: CtxDep, who: User, course_id: CourseId, body: CourseRename) -> CourseTitle:
    """Give a course a new title (its teacher or an admin): required, not blank, at most 300 characters."""
    course = course_service.rename_course(ctx, who, course_id, body.title)
    return CourseTitle(id=course.id, course_id=course.id, title=course.title, course_title=course.title)


@router.get("/events", status_code=200, response_class=EventStream, responses={**responses(429), **event_stream.describe()})
async def events(request: Request, ctx: CtxDep, who: Teacher) -> EventStream:
    """Live feed of your jobs and courses (an admin's: all of them), as server-sent events:
    `ready` once connected (then load the course list), `job` for each change of a job (status,
    progress, message, step, result's course_id: the job as GET /api/jobs/{id} shows it, with its
    title, course_id and whether it has finished), `course` when a course is created, updated
    (title, search_ready) or deleted; comment lines as heartbeats. At most
    MAX_EVENT_STREAMS_PER_USER open per user (429 too_many_streams) and MAX_EVENT_STREAMS in all
    (503 streams_full), in each API process."""
    s = ctx.settings
    slot = STREAMS.admit(who, s.event_streams_per_user, s.event_streams_total)
    return EventStream(lambda closing: _feed(request, ctx, who, closing), slot)


async def _feed(request: Request, ctx: Container, who: Principal, closing: asyncio.Event) -> AsyncIterator[bytes]:
    feed = Feed(who)
    looks, quiet = 0, 0.0
    while True:
        if looks and looks % CHECK_EVERY == 0:
            try:
                await identify(request, ctx)
            except ProfAIError as exc:
                yield frame("bye", json.dumps({"reason": exc.code}))
                return
        try:  # the reads are blocking calls: off the event loop
            found = await run_in_threadpool(feed.look, ctx, courses=looks % COURSE_EVERY == 0)
        except Exception:  # the database is away for a moment: say nothing, look again
            log.warning("live feed: a look at the jobs failed", exc_info=True)
            found = []
        if looks == 0:
            yield frame("ready", json.dumps({"jobs": sum(1 for kind, _ in found if kind == "job")}))
        for kind, data in found:
            yield frame(kind, JobEvent.of(data).model_dump_json() if kind == "job" else json.dumps(data))
        looks += 1
        quiet = 0.0 if found else quiet + POLL_SECONDS
        if quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            yield HEARTBEAT
        if await wait_for(closing, POLL_SECONDS):
            yield frame("bye", json.dumps({"reason": "the server is restarting"}))
            return

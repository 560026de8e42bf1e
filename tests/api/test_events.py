"""The live feed (GET /api/events, server-sent events): a teacher follows a job from start to
completed and sees its course appear, renamed and deleted; nobody else's jobs show; the number of
open feeds is capped; a look whose second read fails loses nothing; a client that goes away frees its
slot; and a server shutting down ends every feed instead of waiting for them (a real `profai serve`
for the last two)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from factories import make_pdf
from procs import kill_group, start_server
from profai.api import create_app
from profai.api.routes import manage
from profai.db import feed_repo, jobs_repo
from profai.db.engine import session_scope
from profai.domain import ADMIN, STUDENT, TEACHER
from profai.services import accounts
from profai.services.live_feed import Feed
from profai.wiring import build_container
from support import ADMIN_HEADERS, make_settings, user_with_key, wait_until

FINAL = ("completed", "partially_completed", "failed", "cancelled")


def events(lines: Iterator[str], until, timeout: float = 120) -> list[tuple[str, dict]]:
    """Events (name, data) read from an event stream's lines until `until(name, data)` holds."""
    got: list[tuple[str, dict]] = []
    name, deadline = None, time.monotonic() + timeout
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name:
            got.append((name, json.loads(line[6:])))
            if until(name, got[-1][1]):
                return got
        assert time.monotonic() < deadline, f"waited {timeout} s; events: {got}"
    raise AssertionError(f"the stream ended; events: {got}")


@pytest.fixture(autouse=True)
def quick_heartbeats(monkeypatch):
    # A heartbeat every few looks, so a reader that waits for something that never comes still
    # wakes up to notice its deadline.
    monkeypatch.setattr(manage, "HEARTBEAT_SECONDS", 0.5)


def _key(ctx, role: str) -> dict[str, str]:
    return {"X-API-Key": user_with_key(ctx, role)[1]}


@pytest.fixture
def world(tmp_path):
    ctx = build_container(make_settings(tmp_path / "data", MAX_EVENT_STREAMS_PER_USER=2, MAX_EVENT_STREAMS=5,
                                        IDENTITY_CACHE_SECONDS=0),
                          compute_processes=0)
    ctx.runner.start()
    with TestClient(create_app(ctx=ctx)) as client:
        yield client, {name: _key(ctx, role) for name, role in
                       (("a", TEACHER), ("b", TEACHER), ("student", STUDENT), ("admin", ADMIN))}
    ctx.close()


def test_a_teacher_follows_their_job_to_completed_and_sees_the_course_come_and_go(world, tmp_path):
    client, who = world
    pdf = make_pdf(tmp_path / "biology.pdf")
    with client.stream("GET", "/api/events", headers=who["a"]) as a, \
            client.stream("GET", "/api/events", headers=who["b"]) as b, \
            client.stream("GET", "/api/events", headers=who["admin"]) as admin:
        assert a.status_code == 200 and a.headers["content-type"].startswith("text/event-stream")
        assert a.headers["x-accel-buffering"] == "no" and a.headers["cache-control"] == "no-cache"
        lines = a.iter_lines()
        assert events(lines, lambda name, _: name == "ready") == [("ready", {"jobs": 0})]
        with pdf.open("rb") as f:
            job_id = client.post("/api/upload-pdfs", data={"course_title": "Biology"}, headers=who["a"],
                                 files={"files": ("biology.pdf", f, "application/pdf")}).json()["job_id"]
        seen = events(lines, lambda name, data: name == "job" and data["status"] in FINAL)
        jobs = [data for name, data in seen if name == "job"]
        assert {j["job_id"] for j in jobs} == {job_id} and jobs[-1]["status"] == "completed", jobs
        assert [j["progress"] for j in jobs] == sorted(j["progress"] for j in jobs), "progress went down"
        assert jobs[-1]["progress"] == 100 and jobs[-1]["title"] == "Biology" and jobs[-1]["finished"]
        course_id = jobs[-1]["course_id"]
        # Course first: the course appears while the job still indexes it, and is marked ready after.
        if not any(n == "course" for n, _ in seen):
            seen += events(lines, lambda name, _: name == "course", timeout=10)
        created = next(d for n, d in seen if n == "course")
        assert created["action"] == "created" and created["course_id"] == course_id and created["title"] == "Biology"
        if not created["search_ready"]:
            assert events(lines, lambda name, d: name == "course" and d["search_ready"], timeout=10)[-1][1] == {
                "action": "updated", "course_id": course_id, "title": "Biology", "search_ready": True}

        assert client.patch(f"/api/courses/{course_id}", json={"title": "Cells"}, headers=who["a"]).status_code == 200
        renamed = events(lines, lambda name, _: name == "course", timeout=10)[-1][1]
        assert renamed == {"action": "updated", "course_id": course_id, "title": "Cells", "search_ready": True}
        assert client.delete(f"/api/courses/{course_id}", headers=who["a"]).status_code == 204
        assert events(lines, lambda name, _: name == "course", timeout=10)[-1][1] == {
            "action": "deleted", "course_id": course_id}

        # The admin sees every job; teacher B, whose feed was open all along, sees none of A's.
        assert events(admin.iter_lines(), lambda name, d: name == "job" and d["status"] == "completed",
                      timeout=30)[-1][1]["job_id"] == job_id
        b_lines, b_seen, quiet_until = b.iter_lines(), [], time.monotonic() + 3
        for line in b_lines:  # heartbeats come every 0.5 s, so this loop wakes up
            b_seen.append(line)
            if time.monotonic() > quiet_until:
                break
        assert not [line for line in b_seen if job_id in line or "event: job" in line or "event: course" in line]


def test_students_and_nobody_get_no_feed(world):
    client, who = world
    resp = client.get("/api/events", headers=who["student"])
    assert resp.status_code == 403 and resp.json()["code"] == "teachers_only"
    assert client.get("/api/events").status_code == 401


def test_open_feeds_are_capped_per_user_and_in_all(world):
    client, who = world
    with client.stream("GET", "/api/events", headers=who["a"]) as one, \
            client.stream("GET", "/api/events", headers=who["a"]) as two:
        assert one.status_code == two.status_code == 200
        third = client.get("/api/events", headers=who["a"])
        assert third.status_code == 429 and third.json()["code"] == "too_many_streams"
        assert int(third.headers["retry-after"]) >= 1
        with client.stream("GET", "/api/events", headers=who["b"]) as b1, \
                client.stream("GET", "/api/events", headers=who["b"]) as b2, \
                client.stream("GET", "/api/events", headers=who["admin"]) as c1:
            assert b1.status_code == b2.status_code == c1.status_code == 200
            full = client.get("/api/events", headers=who["admin"])  # 5 open: the server's limit
            assert full.status_code == 503 and full.json()["code"] == "streams_full"
    # Closed feeds give their slots back.
    with client.stream("GET", "/api/events", headers=who["a"]) as again:
        assert again.status_code == 200


def test_a_feed_ends_once_its_key_is_revoked(world, monkeypatch):
    client, who = world
    monkeypatch.setattr(manage, "CHECK_EVERY", 2)
    with client.stream("GET", "/api/events", headers=who["a"]) as feed:
        lines = feed.iter_lines()
        events(lines, lambda name, _: name == "ready")
        key_id = client.get("/api/keys", headers=who["a"]).json()["keys"][0]["id"]
        assert client.delete(f"/api/keys/{key_id}", headers=who["a"]).status_code == 204
        assert events(lines, lambda name, _: name == "bye", timeout=10)[-1] == ("bye", {"reason": "invalid_credentials"})


def test_a_look_whose_course_read_fails_keeps_its_job_events_for_the_next(tmp_path, monkeypatch):
    """The database away for a moment between a look's two reads: nothing it found is lost."""
    ctx = build_container(make_settings(tmp_path / "data"), compute_processes=0)
    try:
        user, _ = user_with_key(ctx, TEACHER)
        feed = Feed(accounts.principal_of(user, "key"))
        assert feed.look(ctx, courses=True) == []
        with session_scope(ctx.sessions) as session:  # max_attempts=0: no worker claims it, it stays pending
            job_id = jobs_repo.create(session, "course", {"files": []}, owner_id=user.id, max_attempts=0).id

        def away(*args, **kwargs):
            raise ConnectionError("the database went away")

        with monkeypatch.context() as patched:
            patched.setattr(feed_repo, "courses", away)
            with pytest.raises(ConnectionError):
                feed.look(ctx, courses=True)
        assert [(kind, row.id) for kind, row in feed.look(ctx, courses=True)] == [("job", job_id)]
        assert feed.look(ctx, courses=True) == []  # sent once
    finally:
        ctx.close()


@pytest.fixture
def server(tmp_path):
    proc, url = start_server({"PROFAI_DATA_DIR": str(tmp_path / "data"), "MAX_EVENT_STREAMS_PER_USER": "1",
                              "MAX_WORKERS": "1"}, tmp_path / "server.log")
    yield proc, url
    kill_group(proc, signal.SIGKILL)


@pytest.mark.slow
def test_a_client_that_goes_away_frees_its_slot_on_a_real_server(server):
    _, url = server
    with httpx.Client(headers=ADMIN_HEADERS, timeout=10) as http:
        with http.stream("GET", f"{url}/api/events") as first:
            assert first.status_code == 200
            # Held in a name: an iterator dropped here would be closed, and httpx would close the
            # connection with it, handing the slot back before the second request comes.
            lines = first.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: ready"
            refused = http.get(f"{url}/api/events")
            assert refused.status_code == 429 and refused.json()["code"] == "too_many_streams"
        # The connection is closed without a word: the server notices and gives the slot back.

        def admitted() -> bool:
            with http.stream("GET", f"{url}/api/events") as again:
                return again.status_code == 200

        wait_until(admitted, timeout=10, interval=0.2, message="the closed feed's slot to be free again")


@pytest.mark.slow
def test_a_shutting_down_server_ends_its_feeds_and_exits(server):
    proc, url = server
    with httpx.Client(headers=ADMIN_HEADERS, timeout=10) as http, http.stream("GET", f"{url}/api/events") as feed:
        lines = feed.iter_lines()
        assert next(line for line in lines if line.startswith("event:")) == "event: ready"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest = list(lines)  # ends when the server closes the stream
        assert "event: bye" in rest, rest
    proc.wait(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    print(f"shut down {time.monotonic() - started:.1f} s after SIGTERM with a feed open")

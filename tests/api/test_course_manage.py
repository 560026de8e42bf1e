"""Managing courses through the API: renaming (the upload's title rules, hostile titles), deleting,
and cancelling a job; each by its teacher or an admin, nobody else."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factories import make_pdf
from profai.api import create_app
from profai.db import courses_repo, jobs_repo
from profai.db.engine import session_scope
from profai.domain import ADMIN, STUDENT, TEACHER, CourseDraft
from profai.wiring import build_container
from support import make_settings, upload_course, user_with_key, wait_until


def _key(ctx, role: str) -> tuple[int, dict[str, str]]:
    user, key = user_with_key(ctx, role)
    return user.id, {"X-API-Key": key}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("manage")
    # tests/gate_plugins.py holds a course job titled "Held..." half indexed until GATE exists.
    ctx = build_container(make_settings(root / "data", PROFAI_PLUGINS="gate_plugins"), compute_processes=0)
    ctx.runner.start()
    with pytest.MonkeyPatch.context() as env, TestClient(create_app(ctx=ctx)) as client:
        env.setenv("PROFAI_TEST_GATE", str(root / "gate"))
        ids = {name: _key(ctx, role) for name, role in
               (("owner", TEACHER), ("other", TEACHER), ("student", STUDENT), ("admin", ADMIN))}
        client.headers.update(ids["owner"][1])
        course_id = upload_course(client, make_pdf(root / "biology.pdf"), "Biology")
        client.headers.clear()
        yield client, ctx, {name: h for name, (_, h) in ids.items()}, ids["owner"][0], course_id
    ctx.close()


def _spare(ctx, owner_id: int) -> int:
    with session_scope(ctx.sessions) as session:
        return courses_repo.replace_for_job(session, job_id=None, draft=CourseDraft("Spare"), generator="x",
                                            collection=None, source_files=[], owner_id=owner_id).id


def test_the_teacher_renames_a_course_and_the_list_shows_the_new_title(world):
    client, _, who, _, course_id = world
    resp = client.patch(f"/api/courses/{course_id}", json={"title": "  Cell   biology \n"}, headers=who["owner"])
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"id": course_id, "course_id": course_id, "title": "Cell biology",
                           "course_title": "Cell biology"}
    listed = client.get("/api/courses", headers=who["owner"]).json()["courses"]
    assert [c["title"] for c in listed if c["id"] == course_id] == ["Cell biology"]
    assert client.get(f"/api/courses/{course_id}", headers=who["owner"]).json()["title"] == "Cell biology"
    # An admin may too; the title is the upload's: what is sent, whitespace made single.
    resp = client.patch(f"/api/courses/{course_id}", json={"title": "Biology"}, headers=who["admin"])
    assert resp.status_code == 200 and resp.json()["title"] == "Biology"


@pytest.mark.parametrize("identity,status", [("other", 404), ("student", 404)])
def test_no_one_else_renames_it(world, identity, status):
    client, _, who, _, course_id = world
    resp = client.patch(f"/api/courses/{course_id}", json={"title": "Mine now"}, headers=who[identity])
    assert resp.status_code == status, resp.text
    assert client.get(f"/api/courses/{course_id}", headers=who["owner"]).json()["title"] == "Biology"


@pytest.mark.parametrize("body,code", [
    ({"title": ""}, "missing_course_title"),
    ({"title": " \t\n\u00a0\u2003"}, "missing_course_title"),  # Unicode spaces are blank too
    ({"title": "x" * 301}, "course_title_too_long"),
    ({"title": "a " * 151}, "course_title_too_long"),  # judged as sent, before spaces collapse
    ({}, "missing_field"),
    ({"title": None}, "invalid_input"),
    ({"title": 5}, "invalid_input"),
    ({"title": ["Biology"]}, "invalid_input"),
    ({"title": "Bio\x00logy"}, "invalid_input"),
])
def test_a_bad_title_is_a_422_with_a_stable_code_and_changes_nothing(world, body, code):
    client, _, who, _, course_id = world
    resp = client.patch(f"/api/courses/{course_id}", json=body, headers=who["owner"])
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == code
    assert client.get(f"/api/courses/{course_id}", headers=who["owner"]).json()["title"] == "Biology"


@pytest.mark.parametrize("title", ["<script>alert(1)</script>", "'; DROP TABLE courses; --", "Ünïcødé 📚 课程",
                                   "x" * 300, "\u202eevil\u202c"])
def test_hostile_titles_are_kept_as_text(world, title):
    client, ctx, who, owner_id, _ = world
    course_id = _spare(ctx, owner_id)
    resp = client.patch(f"/api/courses/{course_id}", json={"title": title}, headers=who["owner"])
    assert resp.status_code == 200, resp.text
    assert client.get(f"/api/courses/{course_id}", headers=who["owner"]).json()["title"] == title


def test_renaming_a_course_that_does_not_exist_is_a_404(world):
    client, _, who, _, _ = world
    resp = client.patch("/api/courses/999999", json={"title": "x"}, headers=who["admin"])
    assert resp.status_code == 404 and resp.json()["code"] == "course_not_found"


def test_the_teacher_deletes_a_course_once(world):
    client, ctx, who, owner_id, _ = world
    course_id = _spare(ctx, owner_id)
    assert client.delete(f"/api/courses/{course_id}", headers=who["other"]).status_code == 404
    assert client.delete(f"/api/courses/{course_id}", headers=who["owner"]).status_code == 204
    assert client.get(f"/api/courses/{course_id}", headers=who["owner"]).status_code == 404
    assert client.delete(f"/api/courses/{course_id}", headers=who["owner"]).status_code == 404


def test_cancelling_a_job_stops_it_and_a_second_cancel_is_a_conflict(world):
    client, ctx, who, owner_id, _ = world
    with session_scope(ctx.sessions) as session:  # max_attempts=0: no worker claims it, it stays pending
        job_id = jobs_repo.create(session, "course", {"files": []}, owner_id=owner_id, max_attempts=0).id
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=who["other"]).status_code == 404
    resp = client.post(f"/api/jobs/{job_id}/cancel", headers=who["owner"])
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled", resp.text
    again = client.post(f"/api/jobs/{job_id}/cancel", headers=who["owner"])
    assert again.status_code == 409 and again.json()["code"] == "job_finished"


def test_cancelling_a_running_course_job_leaves_no_course(world, tmp_path):
    client, ctx, who, _, _ = world
    pdf = make_pdf(tmp_path / "long.pdf")
    with pdf.open("rb") as f:
        job_id = client.post("/api/upload-pdfs", data={"course_title": "Held: short lived"}, headers=who["owner"],
                             files={"files": ("long.pdf", f, "application/pdf")}).json()["job_id"]
    # Caught running every time: its course saved, its passages half indexed (gate_plugins).
    running = wait_until(lambda: (j := client.get(f"/api/jobs/{job_id}", headers=who["owner"]).json())["step"]
                         == "indexing" and (j["step_progress"] or 0) > 0 and j, timeout=60,
                         message="the job to be half indexed")
    course_id = running["result"]["course_id"]
    assert client.get(f"/api/courses/{course_id}", headers=who["owner"]).status_code == 200
    resp = client.post(f"/api/jobs/{job_id}/cancel", headers=who["owner"])
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    (ctx.settings.data_dir.parent / "gate").touch()
    wait_until(lambda: client.get(f"/api/courses/{course_id}", headers=who["owner"]).status_code == 404,
               timeout=30, message="the partial course to be removed")

"""Accounts over HTTP: the first-run step, sign-in with a cookie, passwords, users, API keys,
the Origin and Host checks, and a class: a teacher's course, a student who joins it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factories import make_pdf
from profai.api import create_app
from profai.domain import CLI, STUDENT, TEACHER
from profai.services import accounts
from profai.wiring import build_container
from support import make_settings, upload_course, wait_job

PASSWORD = "correct horse battery"


@pytest.fixture
def ctx(tmp_path):
    container = build_container(make_settings(tmp_path / "data", RATE_LIMIT_PER_SECOND=0), compute_processes=0)
    container.runner.start()
    yield container
    container.close()


def _client(ctx, **kwargs) -> TestClient:
    return TestClient(create_app(ctx=ctx), **kwargs)


def _login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    resp = client.post("/api/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text


def _user(ctx, email: str, role: str) -> None:
    accounts.create_user(ctx, CLI, email, PASSWORD, role)


def test_first_run_creates_the_admin_from_this_machine_only(ctx):
    with _client(ctx) as remote:
        assert remote.get("/api/setup").json() == {"setup_needed": True}
        refused = remote.post("/api/setup", json={"email": "head@school.example", "password": PASSWORD})
        assert refused.status_code == 403 and refused.json()["code"] == "setup_local_only"
    with _client(ctx, client=("127.0.0.1", 40000)) as local:
        proxied = local.post("/api/setup", json={"email": "head@school.example", "password": PASSWORD},
                             headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403  # through a proxy the peer is not the person at the server
        made = local.post("/api/setup", json={"email": "Head@School.example", "password": PASSWORD})
        assert made.status_code == 201, made.text
        assert made.json()["role"] == "admin" and made.json()["email"] == "head@school.example"
        assert local.get("/api/auth/me").json()["role"] == "admin"  # signed in by the cookie it set
        again = local.post("/api/setup", json={"email": "other@school.example", "password": PASSWORD},
                           headers={"Origin": "http://testserver"})
        assert again.status_code == 409 and again.json()["code"] == "already_set_up"
        assert local.get("/api/setup").json() == {"setup_needed": False}


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(ctx):
    _user(ctx, "t@school.example", TEACHER)
    with _client(ctx, base_url="https://testserver") as client:
        bad = client.post("/api/auth/login", json={"email": "t@school.example", "password": "wrong password"})
        assert bad.status_code == 401 and bad.json()["code"] == "invalid_credentials"
        unknown = client.post("/api/auth/login", json={"email": "who@school.example", "password": PASSWORD})
        assert unknown.json() == bad.json()  # the same answer: no way to learn which emails exist
        resp = client.post("/api/auth/login", json={"email": "t@school.example", "password": PASSWORD})
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
        assert client.get("/api/auth/me").json()["user"]["email"] == "t@school.example"
        out = client.post("/api/auth/logout", headers={"Origin": "https://testserver"})
        assert out.status_code == 204
        assert client.get("/api/auth/me").status_code == 401
    with _client(ctx) as plain:  # over plain HTTP the cookie cannot be Secure, or it would never come back
        _login(plain, "t@school.example")
        assert plain.get("/api/auth/me").status_code == 200


def test_cookie_requests_that_change_state_must_come_from_our_pages(ctx):
    _user(ctx, "t@school.example", TEACHER)
    with _client(ctx) as client:
        _login(client, "t@school.example")
        body = {"name": "script"}
        missing = client.post("/api/keys", json=body)
        assert missing.status_code == 403 and missing.json()["code"] == "cross_origin"
        evil = client.post("/api/keys", json=body, headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        ours = client.post("/api/keys", json=body, headers={"Origin": "http://testserver"})
        assert ours.status_code == 201, ours.text
        # A key carries no ambient credential: scripts need no Origin.
        key = ours.json()["key"]
        client.cookies.clear()
        assert client.post("/api/keys", json=body, headers={"X-API-Key": key}).status_code == 201


def test_other_host_names_are_refused(ctx):
    with _client(ctx) as client:
        resp = client.get("/api/setup", headers={"Host": "rebound.evil.example"})
        assert resp.status_code == 400 and resp.json()["code"] == "host_not_allowed"
        assert client.get("/api/setup", headers={"Host": "127.0.0.1:5001"}).status_code == 200


def test_api_keys_are_shown_once_and_stop_working_when_revoked(ctx):
    _user(ctx, "t@school.example", TEACHER)
    with _client(ctx, headers={"Origin": "http://testserver"}) as client:
        _login(client, "t@school.example")
        made = client.post("/api/keys", json={"name": "grading script"}).json()
        assert made["key"].startswith("pk_") and made["prefix"] == made["key"][:10]
        listed = client.get("/api/keys").json()["keys"]
        assert [k["name"] for k in listed] == ["grading script"] and "key" not in listed[0]
        with _client(ctx) as script:
            for header in ({"Authorization": f"Bearer {made['key']}"}, {"X-API-Key": made["key"]}):
                assert script.get("/api/auth/me", headers=header).json()["user"]["email"] == "t@school.example"
            assert client.delete(f"/api/keys/{made['id']}").status_code == 204
            gone = script.get("/api/auth/me", headers={"X-API-Key": made["key"]})
            assert gone.status_code == 401 and gone.headers["www-authenticate"].startswith("Bearer")


def test_the_api_key_setting_acts_as_an_admin(ctx):
    with _client(ctx) as client:
        assert client.get("/api/auth/me").status_code == 401
        me = client.get("/api/auth/me", headers={"X-API-Key": ctx.settings.api_key}).json()
        assert me == {"role": "admin", "via": "admin_key", "user": None}
        assert client.get("/api/worker-stats", headers={"X-API-Key": ctx.settings.api_key}).status_code == 200


def test_admins_create_and_disable_users_and_passwords_change(ctx):
    _user(ctx, "admin@school.example", "admin")
    with _client(ctx, headers={"Origin": "http://testserver"}) as admin, \
            _client(ctx, headers={"Origin": "http://testserver"}) as student:
        _login(admin, "admin@school.example")
        made = admin.post("/api/users", json={"email": "s@school.example", "password": PASSWORD, "role": "student"})
        assert made.status_code == 201, made.text
        taken = admin.post("/api/users", json={"email": "S@school.example", "password": PASSWORD, "role": "student"})
        assert taken.status_code == 409 and taken.json()["code"] == "email_taken"
        weak = admin.post("/api/users", json={"email": "w@school.example", "password": "short", "role": "student"})
        assert weak.status_code == 422 and weak.json()["code"] == "weak_password"

        _login(student, "s@school.example")
        wrong = student.post("/api/auth/password", json={"current_password": "nope nope", "new_password": "n" * 12})
        assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_password"
        assert student.post("/api/auth/password",
                            json={"current_password": PASSWORD, "new_password": "a new passphrase"}).status_code == 204
        assert student.get("/api/auth/me").status_code == 200  # this session stays
        with _client(ctx) as other:
            assert other.post("/api/auth/login", json={"email": "s@school.example", "password": PASSWORD}
                              ).status_code == 401
            _login(other, "s@school.example", "a new passphrase")

        user_id = made.json()["id"]
        assert admin.patch(f"/api/users/{user_id}", json={"disabled": True}).json()["disabled"] is True
        assert student.get("/api/auth/me").status_code == 401  # signed out everywhere
        assert student.post("/api/auth/login", json={"email": "s@school.example", "password": "a new passphrase"}
                            ).status_code == 401
        me = admin.get("/api/auth/me").json()["user"]["id"]
        assert admin.patch(f"/api/users/{me}", json={"disabled": True}).json()["code"] == "cannot_change_self"


def test_a_class_sees_its_teachers_course_and_the_teacher_sees_the_results(ctx, tmp_path):
    for email, role in (("t@school.example", TEACHER), ("s1@school.example", STUDENT),
                        ("s2@school.example", STUDENT)):
        _user(ctx, email, role)
    origin = {"Origin": "http://testserver"}
    with _client(ctx, headers=origin) as teacher, _client(ctx, headers=origin) as s1, \
            _client(ctx, headers=origin) as s2:
        _login(teacher, "t@school.example")
        _login(s1, "s1@school.example")
        _login(s2, "s2@school.example")
        course_id = upload_course(teacher, make_pdf(tmp_path / "biology.pdf"), "Biology")
        code = teacher.get(f"/api/courses/{course_id}").json()["join_code"]
        assert code and s1.get(f"/api/courses/{course_id}").status_code == 404

        joined = s1.post("/api/join", json={"code": code.lower()})
        assert joined.status_code == 200 and joined.json() == {"course_id": course_id, "title": "Biology", "new": True}
        assert [c["id"] for c in s1.get("/api/courses").json()["courses"]] == [course_id]
        assert s1.get(f"/api/courses/{course_id}").json()["join_code"] is None  # students do not see it
        assert s2.get("/api/courses").json()["courses"] == []
        assert s2.get(f"/api/courses/{course_id}").status_code == 404

        quiz = s1.post(f"/api/courses/{course_id}/quizzes", json={"questions": 3, "seed": 1}).json()
        answers = {q["id"]: 0 for q in quiz["questions"]}
        attempt = s1.post(f"/api/quizzes/{quiz['quiz_id']}/attempts", json={"answers": answers}).json()
        assert s2.get(f"/api/quizzes/{quiz['quiz_id']}").status_code == 404
        assert s1.delete(f"/api/courses/{course_id}").status_code == 403

        results = teacher.get(f"/api/courses/{course_id}/results").json()
        (row,) = results["quizzes"]
        (student,) = row["students"]
        assert student["email"] == "s1@school.example"
        (mine,) = student["attempts"]
        assert mine["score"] == attempt["score"]
        assert [q["correct"] for q in mine["questions"]] == [f["correct"] for f in attempt["feedback"]]
        students = teacher.get(f"/api/courses/{course_id}/students").json()["students"]
        assert [s["email"] for s in students] == ["s1@school.example"]

        new_code = teacher.post(f"/api/courses/{course_id}/join-code").json()["join_code"]
        assert new_code != code
        assert s2.post("/api/join", json={"code": code}).status_code == 404  # the old code stopped working


def test_too_many_unfinished_jobs_are_refused_with_retry_after(tmp_path):
    ctx = build_container(make_settings(tmp_path / "data", MAX_ACTIVE_JOBS=1, RATE_LIMIT_PER_SECOND=0),
                          compute_processes=0)  # no runner started: jobs stay pending
    _user(ctx, "t@school.example", TEACHER)
    pdf = make_pdf(tmp_path / "biology.pdf")
    try:
        with _client(ctx, headers={"Origin": "http://testserver"}) as client:
            _login(client, "t@school.example")

            def upload():
                with pdf.open("rb") as f:
                    return client.post("/api/upload-pdfs", data={"course_title": "B"},
                                       files={"files": ("b.pdf", f, "application/pdf")})

            assert upload().status_code == 202
            refused = upload()
            assert refused.status_code == 429 and refused.json()["code"] == "too_many_jobs"
            assert int(refused.headers["retry-after"]) >= 1
            assert len(list((ctx.settings.data_dir / "uploads").rglob("*.pdf"))) == 1  # nothing kept of it
    finally:
        ctx.close()


def test_a_teachers_job_is_theirs(ctx, tmp_path):
    for email in ("a@school.example", "b@school.example"):
        _user(ctx, email, TEACHER)
    origin = {"Origin": "http://testserver"}
    with _client(ctx, headers=origin) as a, _client(ctx, headers=origin) as b:
        _login(a, "a@school.example")
        _login(b, "b@school.example")
        with make_pdf(tmp_path / "biology.pdf").open("rb") as f:
            job_id = a.post("/api/upload-pdfs", data={"course_title": "B"},
                            files={"files": ("b.pdf", f, "application/pdf")}).json()["job_id"]
        assert b.get(f"/api/jobs/{job_id}").status_code == 404
        assert b.post(f"/api/jobs/{job_id}/cancel").status_code == 404
        assert wait_job(a, job_id)["status"] == "completed"

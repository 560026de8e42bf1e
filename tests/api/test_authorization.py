"""Who may call what: every route of the app's own route table, called as six identities, must
answer the status its rule says. A route added without a row here fails the test, so no route can
go out without a decided rule.

The world: teacher A owns a course (built from a real PDF) and a dataset; student S1 joined the
course, student S2 did not; teacher B is another teacher; an admin; and nobody (no credentials)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from factories import make_pdf
from profai.api import create_app
from profai.db import datasets_repo, jobs_repo
from profai.db.engine import session_scope
from profai.domain import ADMIN, STUDENT, TEACHER
from profai.services import accounts
from profai.wiring import build_container
from support import make_settings, upload_course, user_with_key

IDENTITIES = ("anonymous", "student_not_enrolled", "student_enrolled", "other_teacher", "owner_teacher", "admin")
_n = itertools.count()


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    ids: dict[str, Any]

    def headers(self, identity: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[identity]} if identity in self.keys else {}


def _user(ctx, role: str) -> tuple[int, str]:
    user, key = user_with_key(ctx, role)
    return user.id, key


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("authz")
    ctx = build_container(make_settings(root / "data", RATE_LIMIT_PER_SECOND=0), compute_processes=0)
    ctx.runner.start()
    users = {"owner_teacher": _user(ctx, TEACHER), "other_teacher": _user(ctx, TEACHER),
             "student_enrolled": _user(ctx, STUDENT), "student_not_enrolled": _user(ctx, STUDENT),
             "admin": _user(ctx, ADMIN)}
    keys = {name: key for name, (_, key) in users.items()}
    with TestClient(create_app(ctx=ctx)) as client:
        owner = {"X-API-Key": keys["owner_teacher"]}
        client.headers.update(owner)
        course_id = upload_course(client, make_pdf(root / "biology.pdf"), "Biology")
        client.headers.clear()
        code = client.get(f"/api/courses/{course_id}", headers=owner).json()["join_code"]
        joined = client.post("/api/join", json={"code": code}, headers={"X-API-Key": keys["student_enrolled"]})
        assert joined.status_code == 200, joined.text
        course = client.get(f"/api/courses/{course_id}", headers=owner).json()
        quiz = client.post(f"/api/courses/{course_id}/quizzes", json={"questions": 2}, headers=owner).json()
        w = World(client, keys, {
            "course_id": course_id, "lesson_id": course["modules"][0]["lessons"][0]["id"], "quiz": quiz,
            "user_id": users["student_not_enrolled"][0], "owner_id": users["owner_teacher"][0], "ctx": ctx,
        })
        w.ids["dataset_id"] = _dataset(w)
        yield w
    ctx.close()


def _dataset(w: World) -> str:
    """A finished dataset of teacher A (rows only: nothing to index), and its task."""
    dataset_id = str(uuid.uuid4())
    with session_scope(w.ids["ctx"].sessions) as session:
        datasets_repo.create(session, dataset_id, namespace="shop", filename="shop.csv", blob_key="datasets/x.csv",
                             size=1, sha256="0" * 64, spec={}, owner_id=w.ids["owner_id"])
        # max_attempts=0: no worker ever claims it, so it stays as made (pending).
        jobs_repo.create(session, "dataset", {"dataset_id": dataset_id, "namespace": "shop"}, job_id=dataset_id,
                         owner_id=w.ids["owner_id"], max_attempts=0)
    return dataset_id


def _pending_job(w: World) -> str:
    with session_scope(w.ids["ctx"].sessions) as session:
        return jobs_repo.create(session, "course", {"files": []}, owner_id=w.ids["owner_id"], max_attempts=0).id


def _course(w: World) -> int:
    """A throw-away course of teacher A that the enrolled student joined (for DELETE)."""
    from profai.db import accounts_repo, courses_repo
    from profai.domain import CourseDraft

    student = accounts.principal_for(w.ids["ctx"], _email(w, "student_enrolled"))
    with session_scope(w.ids["ctx"].sessions) as session:
        course = courses_repo.replace_for_job(session, job_id=None, draft=CourseDraft("Spare"), generator="x",
                                              collection=None, source_files=[], owner_id=w.ids["owner_id"])
        accounts_repo.enroll(session, course.id, student.user_id)
        return course.id


def _email(w: World, identity: str) -> str:
    return accounts.identify(w.ids["ctx"], api_key=w.keys[identity]).email


def _owner_key(w: World) -> int:
    owner = accounts.principal_for(w.ids["ctx"], _email(w, "owner_teacher"))
    return accounts.create_key(w.ids["ctx"], owner, "spare")[0].id


def _chat(w: World) -> str:
    """A new conversation of the enrolled student with the course, holding one question."""
    from profai.db import chat_repo

    student = accounts.principal_for(w.ids["ctx"], _email(w, "student_enrolled"))
    with session_scope(w.ids["ctx"].sessions) as session:
        chat = chat_repo.create_session(session, w.ids["course_id"], student.user_id)
        chat_repo.add_message(session, chat.id, "user", "What is chlorophyll?")
        return chat.id


R = dict[str, int]


def everyone(status: int) -> R:
    return {"anonymous": status, **dict.fromkeys(IDENTITIES[1:], status)}


def users(status: int, **overrides: int) -> R:
    """401 for nobody, `status` for every signed-in identity unless overridden."""
    return {"anonymous": 401, **dict.fromkeys(IDENTITIES[1:], status), **overrides}


def course_members(status: int) -> R:
    """The course's readers get `status`; others do not learn it exists."""
    return users(404, student_enrolled=status, owner_teacher=status, admin=status)


def course_managers(status: int) -> R:
    return users(404, student_enrolled=403, owner_teacher=status, admin=status)


def teachers_own(status: int) -> R:
    """Teacher routes on teacher A's things: students refused, teacher B told nothing exists."""
    return users(403, other_teacher=404, owner_teacher=status, admin=status)


def teachers(status: int) -> R:
    return users(403, other_teacher=status, owner_teacher=status, admin=status)


Params = Callable[[World], dict[str, Any]]
# (method, path) -> (expected status by identity, path parameters, JSON body or None)
RULES: dict[tuple[str, str], tuple[R, Params, Any]] = {
    ("GET", "/health"): (everyone(200), lambda w: {}, None),
    ("GET", "/api/v1/health"): (everyone(200), lambda w: {}, None),
    ("GET", "/"): (everyone(200), lambda w: {}, None),
    ("GET", "/static/{path:path}"): (everyone(200), lambda w: {"path": "app.js"}, None),
    ("GET", "/openapi.json"): (everyone(200), lambda w: {}, None),
    ("GET", "/docs"): (everyone(200), lambda w: {}, None),
    ("GET", "/docs/oauth2-redirect"): (everyone(200), lambda w: {}, None),
    ("GET", "/redoc"): (everyone(200), lambda w: {}, None),
    # Accounts
    ("GET", "/api/setup"): (everyone(200), lambda w: {}, None),
    ("POST", "/api/setup"): (everyone(403), lambda w: {}, {"email": "a@b.example", "password": "x" * 12}),
    ("POST", "/api/auth/login"): (everyone(401), lambda w: {}, {"email": "no@b.example", "password": "x" * 12}),
    ("POST", "/api/auth/logout"): (users(204), lambda w: {}, None),
    ("GET", "/api/auth/me"): (users(200), lambda w: {}, None),
    ("POST", "/api/auth/password"): (users(422), lambda w: {},
                                     {"current_password": "wrong password", "new_password": "y" * 12}),
    ("GET", "/api/users"): (users(403, admin=200), lambda w: {}, None),
    ("POST", "/api/users"): (users(403, admin=201), lambda w: {},
                             lambda w: {"email": f"new{next(_n)}@school.example", "password": "x" * 12,
                                        "role": "student"}),
    ("PATCH", "/api/users/{user_id}"): (users(403, admin=200), lambda w: {"user_id": w.ids["user_id"]},
                                        {"disabled": False}),
    ("GET", "/api/keys"): (users(200), lambda w: {}, None),
    ("POST", "/api/keys"): (users(201), lambda w: {}, {"name": "script"}),
    ("DELETE", "/api/keys/{key_id}"): (users(404, owner_teacher=204, admin=204),
                                       lambda w: {"key_id": _owner_key(w)}, None),
    # Courses and their class
    # No body: a teacher gets as far as the upload's own check (415: not multipart).
    ("POST", "/api/upload-pdfs"): (teachers(415), lambda w: {}, None),
    ("POST", "/api/upload-pdfs-sync"): (teachers(415), lambda w: {}, None),
    ("GET", "/api/courses"): (users(200), lambda w: {}, None),
    ("GET", "/api/courses/{course_id}"): (course_members(200), lambda w: {"course_id": w.ids["course_id"]}, None),
    ("DELETE", "/api/courses/{course_id}"): (course_managers(204), lambda w: {"course_id": _course(w)}, None),
    ("PATCH", "/api/courses/{course_id}"): (course_managers(200), lambda w: {"course_id": w.ids["course_id"]},
                                            {"title": "Biology"}),
    # The live feed of a teacher's jobs and courses: a stream (see STREAMS), for teachers and admins.
    ("GET", "/api/events"): (teachers(200), lambda w: {}, None),
    ("POST", "/api/join"): (users(404, other_teacher=403, owner_teacher=403, admin=403), lambda w: {},
                            {"code": "NOSUCHCODE"}),
    ("POST", "/api/courses/{course_id}/join-code"): (course_managers(200),
                                                     lambda w: {"course_id": w.ids["course_id"]}, None),
    ("GET", "/api/courses/{course_id}/students"): (course_managers(200),
                                                   lambda w: {"course_id": w.ids["course_id"]}, None),
    ("GET", "/api/courses/{course_id}/results"): (course_managers(200),
                                                  lambda w: {"course_id": w.ids["course_id"]}, None),
    # Learning
    ("POST", "/api/chat"): (course_members(200), lambda w: {},
                            lambda w: {"course_id": w.ids["course_id"], "question": "What is chlorophyll?"}),
    ("POST", "/api/courses/{course_id}/quizzes"): (course_members(201), lambda w: {"course_id": w.ids["course_id"]},
                                                   {"questions": 1}),
    ("GET", "/api/quizzes/{quiz_id}"): (course_members(200), lambda w: {"quiz_id": w.ids["quiz"]["quiz_id"]}, None),
    ("POST", "/api/quizzes/{quiz_id}/attempts"): (course_members(201),
                                                  lambda w: {"quiz_id": w.ids["quiz"]["quiz_id"]},
                                                  lambda w: {"answers": {q["id"]: 0 for q in w.ids["quiz"]["questions"]}}),
    ("GET", "/api/quizzes/{quiz_id}/attempts"): (course_members(200),
                                                 lambda w: {"quiz_id": w.ids["quiz"]["quiz_id"]}, None),
    # Past conversations are their owner's alone (admins included: 404, nothing leaks).
    ("GET", "/api/courses/{course_id}/chats"): (course_members(200), lambda w: {"course_id": w.ids["course_id"]},
                                                None),
    ("GET", "/api/chats/{session_id}"): (users(404, student_enrolled=200), lambda w: {"session_id": _chat(w)}, None),
    ("DELETE", "/api/chats/{session_id}"): (users(404, student_enrolled=204), lambda w: {"session_id": _chat(w)},
                                            None),
    # Progress: each reader of the course keeps their own; the class's misses are its teacher's.
    ("PUT", "/api/lessons/{lesson_id}/done"): (course_members(200), lambda w: {"lesson_id": w.ids["lesson_id"]},
                                               None),
    ("DELETE", "/api/lessons/{lesson_id}/done"): (course_members(204), lambda w: {"lesson_id": w.ids["lesson_id"]},
                                                  None),
    ("GET", "/api/courses/{course_id}/progress"): (course_members(200), lambda w: {"course_id": w.ids["course_id"]},
                                                   None),
    ("GET", "/api/courses/{course_id}/results/questions"): (course_managers(200),
                                                            lambda w: {"course_id": w.ids["course_id"]}, None),
    ("GET", "/api/courses/{course_id}/lessons/{lesson_id}/audio"): (
        course_members(200), lambda w: {"course_id": w.ids["course_id"], "lesson_id": w.ids["lesson_id"]}, None),
    ("POST", "/api/tts"): (users(200), lambda w: {}, {"text": "Hello."}),
    # See the source: the course's PDFs and their pages, for whoever may read the course
    ("GET", "/api/courses/{course_id}/files/{file_index}/pdf"): (
        course_members(200), lambda w: {"course_id": w.ids["course_id"], "file_index": 0}, None),
    ("GET", "/api/courses/{course_id}/files/{file_index}/pages/{page}.png"): (
        course_members(200), lambda w: {"course_id": w.ids["course_id"], "file_index": 0, "page": 1}, None),
    ("GET", "/api/courses/{course_id}/files/{file_index}/pages/{page}/find"): (
        course_members(200), lambda w: {"course_id": w.ids["course_id"], "file_index": 0, "page": 1}, None),
    # Jobs
    ("GET", "/api/jobs/{job_id}"): (users(404, owner_teacher=200, admin=200),
                                    lambda w: {"job_id": w.ids["dataset_id"]}, None),
    ("POST", "/api/jobs/{job_id}/cancel"): (users(404, owner_teacher=200, admin=200),
                                            lambda w: {"job_id": _pending_job(w)}, None),
    ("GET", "/api/worker-stats"): (users(403, admin=200), lambda w: {}, None),
    # Prometheus' scrape: admins, or METRICS_TOKEN as a bearer token (tests/observability); no one else.
    ("GET", "/metrics"): (users(403, admin=200), lambda w: {}, None),
    # Datasets: a teacher's tool
    ("POST", "/api/v1/datasets"): (teachers(415), lambda w: {}, None),
    ("GET", "/api/v1/datasets"): (teachers(200), lambda w: {}, None),
    ("GET", "/api/v1/tasks/{task_id}"): (teachers_own(200), lambda w: {"task_id": w.ids["dataset_id"]}, None),
    ("POST", "/api/v1/tasks/{task_id}/retry"): (teachers_own(409), lambda w: {"task_id": w.ids["dataset_id"]}, None),
    ("DELETE", "/api/v1/datasets/{dataset_id}"): (teachers_own(204), lambda w: {"dataset_id": _dataset(w)}, None),
    # Namespaces are their owner's: teacher A's "shop" is no one else's to search.
    ("POST", "/api/v1/query"): (users(403, other_teacher=404, owner_teacher=200, admin=404), lambda w: {},
                                {"namespace": "shop", "query": "boots"}),
}
SOCKETS = {"/ws/chat"}
# Routes whose answer never ends (server-sent events): only the status is read, then the stream is closed.
STREAMS = {("GET", "/api/events")}


def _flat(routes) -> list:
    """The app's routes, with included routers opened (FastAPI keeps them as wrappers)."""
    out = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out += _flat(inner.routes) if inner is not None else [route]
    return out


def _routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in _flat(app.routes):
        if isinstance(route, APIRoute | Route):
            found |= {(m, route.path) for m in (route.methods or ()) if m != "HEAD"}
    return found


def test_every_route_has_a_rule(world):
    routes = _routes(world.client.app)
    assert routes - set(RULES) == set(), "routes without a rule: add them to RULES"
    assert set(RULES) - routes == set(), "rules for routes that no longer exist"
    sockets = {r.path for r in _flat(world.client.app.routes) if isinstance(r, WebSocketRoute)}
    assert sockets == SOCKETS


@pytest.mark.parametrize("route", sorted(RULES), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_identity_gets_the_status_of_its_rule(world, route):
    method, path = route
    expected, params, body = RULES[route]
    got = {}
    for identity in IDENTITIES:
        url = path.replace("{path:path}", "{path}").format(**params(world))
        payload = body(world) if callable(body) else body
        if route in STREAMS:
            with world.client.stream(method, url, headers=world.headers(identity)) as resp:
                got[identity] = resp.status_code
            continue
        resp = world.client.request(method, url, json=payload, headers=world.headers(identity))
        got[identity] = resp.status_code
    assert got == expected


def test_the_chat_socket_needs_an_identity_and_a_course_you_can_read(world):
    with pytest.raises(WebSocketDisconnect), world.client.websocket_connect("/ws/chat") as ws:
        ws.receive_json()  # refused before accept: no identity
    for identity, readable in (("student_enrolled", True), ("student_not_enrolled", False),
                               ("other_teacher", False), ("owner_teacher", True), ("admin", True)):
        with world.client.websocket_connect("/ws/chat", headers=world.headers(identity)) as ws:
            ws.send_json({"course_id": world.ids["course_id"], "question": "What is chlorophyll?"})
            first = ws.receive_json()
            assert first["type"] == ("session" if readable else "error"), (identity, first)
            if not readable:
                assert first["code"] == "course_not_found"

"""A class for the study tests (chat history, progress): teacher A's course built from a real PDF,
students S1 and S2 who joined it, student S3 who did not, teacher B, an admin with an account; each
with an API key. Teacher B's own course is there too, for lessons and chats of another course."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories import BIOLOGY, make_pdf
from profai.api import create_app
from profai.domain import ADMIN, STUDENT, TEACHER
from profai.wiring import Container, build_container
from support import make_settings, upload_course, user_with_key


@dataclass
class Klass:
    client: TestClient
    ctx: Container
    keys: dict[str, str]
    course: dict[str, Any]
    other_course: dict[str, Any]
    user_ids: dict[str, int] = field(default_factory=dict)

    def as_(self, who: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[who]}

    def call(self, who: str, method: str, path: str, **kw: Any):
        return self.client.request(method, path, headers=self.as_(who), **kw)

    def lessons(self, course: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [lesson for m in (course or self.course)["modules"] for lesson in m["lessons"]]


def build_class(root: Path, **settings: Any) -> Iterator[Klass]:
    """Yield the class (its server's ContextManager-held TestClient), then close everything."""
    ctx = build_container(make_settings(root / "data", RATE_LIMIT_PER_SECOND=0, **settings), compute_processes=0)
    ctx.runner.start()
    roles = {"teacher": TEACHER, "other_teacher": TEACHER, "s1": STUDENT, "s2": STUDENT, "s3": STUDENT,
             "admin": ADMIN}
    keys, ids = {}, {}
    for name, role in roles.items():
        user, keys[name] = user_with_key(ctx, role)
        ids[name] = user.id
    with TestClient(create_app(ctx=ctx)) as client:
        client.headers.update({"X-API-Key": keys["teacher"]})
        course_id = upload_course(client, make_pdf(root / "biology.pdf"), "Biology")
        client.headers.clear()
        client.headers.update({"X-API-Key": keys["other_teacher"]})
        other_id = upload_course(client, make_pdf(root / "genetics.pdf", BIOLOGY[2:]), "Genetics")
        client.headers.clear()
        course = client.get(f"/api/courses/{course_id}", headers={"X-API-Key": keys["teacher"]}).json()
        other = client.get(f"/api/courses/{other_id}", headers={"X-API-Key": keys["other_teacher"]}).json()
        for student in ("s1", "s2"):
            joined = client.post("/api/join", json={"code": course["join_code"]},
                                 headers={"X-API-Key": keys[student]})
            assert joined.status_code == 200, joined.text
        yield Klass(client, ctx, keys, course, other, ids)
    ctx.close()

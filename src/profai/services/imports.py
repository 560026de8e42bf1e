"""Importing the seed system's JSON course files (data/courses/course_output.json) into the
database. Tolerant of the shapes those files took; idempotent by content hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

from profai.db import courses_repo
from profai.db.engine import session_scope
from profai.domain import CourseDraft, LessonDraft, ModuleDraft
from profai.errors import InvalidInput
from profai.services.deps import HasSessions


class ImportDeps(HasSessions, Protocol):
    """What this service uses of the wiring."""



def _first(obj: dict, *keys: str, default: Any = None) -> Any:
    return next((obj[k] for k in keys if obj.get(k) not in (None, "")), default)


def _course_objects(data: Any) -> list[dict]:
    if isinstance(data, dict) and isinstance(data.get("courses"), list):
        data = data["courses"]
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(c, dict) and isinstance(c.get("modules"), list) for c in items):
        raise InvalidInput("Expected a course object with `modules`, a list of them, or {\"courses\": [...]}",
                           code="invalid_course_json")
    return items


def _draft(course: dict, source: str) -> CourseDraft:
    modules = []
    for n, module in enumerate(course["modules"], start=1):
        lessons = []
        for lesson in _first(module, "sub_topics", "lessons", "topics", "subtopics", default=[]):
            content = str(_first(lesson, "content", "text", "body", default=""))
            terms = _first(lesson, "key_terms", "keywords", "terms", default=[])
            lessons.append(LessonDraft(
                title=str(_first(lesson, "title", "sub_topic_title", "name", default="Lesson")),
                content=content, summary=str(_first(lesson, "summary", default="")),
                key_terms=[str(t) for t in terms] if isinstance(terms, list) else [],
                source_file=source, page_start=int(_first(lesson, "page_start", default=0)),
                page_end=int(_first(lesson, "page_end", default=0)),
            ))
        modules.append(ModuleDraft(title=str(_first(module, "title", "module_title", "name", default=f"Module {n}")),
                                   lessons=lessons))
    return CourseDraft(title=str(_first(course, "course_title", "title", default="Imported course")), modules=modules)


def import_json(ctx: ImportDeps, path: Path) -> list[tuple[int, bool]]:
    """Load every course in the file; returns (course id, newly created) for each."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path.name} is not readable JSON: {exc}", code="invalid_course_json") from None
    out = []
    for course in _course_objects(data):
        key = hashlib.sha256(json.dumps(course, sort_keys=True).encode()).hexdigest()
        with session_scope(ctx.sessions) as session:
            existing = courses_repo.by_import_key(session, key)
            if existing is not None:
                out.append((existing.id, False))
                continue
            saved = courses_repo.replace_for_job(
                session, job_id=None, draft=_draft(course, path.name), generator="imported-json",
                collection=None, source_files=[{"filename": path.name, "pages": 0, "sha256": key}],
                import_key=key,
            )
            out.append((saved.id, True))
    return out

"""Progress: a student marks lessons done and sees them and their quiz history by module (their own
only); the course's teacher sees the questions the class missed most often."""

from __future__ import annotations

import pytest

from study_kit import build_class
from support import ADMIN_HEADERS


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    yield from build_class(tmp_path_factory.mktemp("progress"))


def progress(klass, who: str) -> dict:
    resp = klass.call(who, "GET", f"/api/courses/{klass.course['id']}/progress")
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_lessons_marked_done_stay_done_until_unmarked(klass):
    first, second = klass.lessons()[:2]
    assert progress(klass, "s1")["lessons_done"] == []
    done = klass.call("s1", "PUT", f"/api/lessons/{second['id']}/done").json()
    again = klass.call("s1", "PUT", f"/api/lessons/{second['id']}/done").json()
    assert done == again and done["lesson_id"] == second["id"]  # marking again keeps the first time
    klass.call("s1", "PUT", f"/api/lessons/{first['id']}/done")

    mine = progress(klass, "s1")
    assert [d["lesson_id"] for d in mine["lessons_done"]] == [first["id"], second["id"]]  # the course's order
    assert mine["lessons_total"] == len(klass.lessons())
    assert progress(klass, "s2")["lessons_done"] == []  # each student's own

    assert klass.call("s1", "DELETE", f"/api/lessons/{second['id']}/done").status_code == 204
    assert klass.call("s1", "DELETE", f"/api/lessons/{second['id']}/done").status_code == 204  # idempotent
    assert [d["lesson_id"] for d in progress(klass, "s1")["lessons_done"]] == [first["id"]]


def _quiz(klass, who: str, **body) -> dict:
    resp = klass.call(who, "POST", f"/api/courses/{klass.course['id']}/quizzes", json={"questions": 3, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _attempt(klass, who: str, quiz: dict, choice: int) -> dict:
    resp = klass.call(who, "POST", f"/api/quizzes/{quiz['quiz_id']}/attempts",
                      json={"answers": {q["id"]: choice for q in quiz["questions"]}})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_quiz_history_by_module_and_the_most_missed_questions(klass):
    module = klass.course["modules"][0]
    whole = _quiz(klass, "s1", seed=1)
    on_module = _quiz(klass, "s1", seed=2, module_id=module["id"])
    mine = [_attempt(klass, "s1", whole, 0), _attempt(klass, "s1", on_module, 1), _attempt(klass, "s1", whole, 2)]
    theirs = [_attempt(klass, "s2", whole, 3)]

    history = progress(klass, "s1")["quizzes"]
    assert [(g["module_id"], g["title"]) for g in history] == [(None, "The whole course"),
                                                               (module["id"], module["title"])]
    assert [(a["attempt_id"], a["score"], a["total"]) for a in history[0]["attempts"]] == [
        (mine[0]["attempt_id"], mine[0]["score"], 3), (mine[2]["attempt_id"], mine[2]["score"], 3)]
    assert [a["attempt_id"] for a in history[1]["attempts"]] == [mine[1]["attempt_id"]]
    assert [a["attempt_id"] for g in progress(klass, "s2")["quizzes"] for a in g["attempts"]] == [
        theirs[0]["attempt_id"]]

    # The teacher: every question missed at least once, most missed first, counted over all attempts.
    missed: dict[tuple[str, str], int] = {}
    answered: dict[tuple[str, str], int] = {}
    for attempt in mine + theirs:
        for f in attempt["feedback"]:
            key = (attempt["quiz_id"], f["question_id"])
            answered[key] = answered.get(key, 0) + 1
            missed[key] = missed.get(key, 0) + (not f["correct"])
    resp = klass.call("teacher", "GET", f"/api/courses/{klass.course['id']}/results/questions?limit=100")
    assert resp.status_code == 200, resp.text
    got = resp.json()["questions"]
    assert {(q["quiz_id"], q["question_id"]): q["missed"] for q in got} == {k: n for k, n in missed.items() if n}
    assert all(q["answered"] == answered[(q["quiz_id"], q["question_id"])] for q in got)
    assert [q["missed"] for q in got] == sorted((q["missed"] for q in got), reverse=True)
    prompts = {(quiz["quiz_id"], q["id"]): q["prompt"] for quiz in (whole, on_module) for q in quiz["questions"]}
    assert all(q["prompt"] == prompts[(q["quiz_id"], q["question_id"])] and q["correct_option"] for q in got)
    top = klass.call("teacher", "GET", f"/api/courses/{klass.course['id']}/results/questions?limit=1").json()
    assert top["questions"] == got[:1]


@pytest.mark.parametrize(("who", "status", "code"), [
    ("s1", 403, "teachers_only"), ("other_teacher", 404, "course_not_found"), ("s3", 404, "course_not_found"),
])
def test_only_the_courses_teacher_sees_the_missed_questions(klass, who, status, code):
    resp = klass.call(who, "GET", f"/api/courses/{klass.course['id']}/results/questions")
    assert resp.status_code == status and resp.json()["code"] == code


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("PUT", "/api/lessons/999999/done", 404, "lesson_not_found"),
    ("DELETE", "/api/lessons/999999/done", 404, "lesson_not_found"),
    ("PUT", "/api/lessons/OTHER/done", 404, "lesson_not_found"),  # a lesson of a course not joined
    ("PUT", "/api/lessons/abc/done", 422, "invalid_input"),
    ("PUT", "/api/lessons/0/done", 422, "invalid_input"),
    ("PUT", "/api/lessons/1.5/done", 422, "invalid_input"),
    ("PUT", f"/api/lessons/{2**31}/done", 422, "invalid_input"),
    ("PUT", f"/api/lessons/{2**64 + 1}/done", 422, "invalid_input"),
    ("GET", "/api/courses/999999/progress", 404, "course_not_found"),
    ("GET", "/api/courses/abc/progress", 422, "invalid_input"),
    ("GET", "/api/courses/COURSE/results/questions?limit=0", 422, "invalid_input"),
    ("GET", "/api/courses/COURSE/results/questions?limit=101", 422, "invalid_input"),
])
def test_bad_progress_requests(klass, method, path, status, code):
    path = path.replace("OTHER", str(klass.lessons(klass.other_course)[0]["id"]))
    path = path.replace("COURSE", str(klass.course["id"]))
    who = "teacher" if "results" in path else "s1"
    resp = klass.call(who, method, path)
    assert resp.status_code == status and resp.json()["code"] == code, resp.text


def test_a_key_without_an_account_keeps_no_progress(klass):
    lesson = klass.lessons()[0]
    resp = klass.client.put(f"/api/lessons/{lesson['id']}/done", headers=ADMIN_HEADERS)
    assert resp.status_code == 403 and resp.json()["code"] == "account_required"
    resp = klass.client.get(f"/api/courses/{klass.course['id']}/progress", headers=ADMIN_HEADERS)
    assert resp.status_code == 200 and resp.json()["lessons_done"] == []

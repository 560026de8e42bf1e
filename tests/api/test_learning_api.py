"""Chat (HTTP and WebSocket), quizzes and audio on a real course built from a real PDF, with the
extractive generator, the real embedding model and eSpeak NG."""

from __future__ import annotations

import io
import wave

import pytest
from fastapi.testclient import TestClient

from factories import make_pdf
from profai.api import create_app
from profai.wiring import build_container
from support import ADMIN_HEADERS, make_settings, upload_course


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("learning")
    ctx = build_container(make_settings(root / "data", TTS_MAX_CHARS=500), compute_processes=0)
    ctx.runner.start()
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as c:
        c.course_id = upload_course(c, make_pdf(root / "biology.pdf"), "Biology")
        yield c
    ctx.close()


def test_chat_answers_with_sources_and_follow_ups(client):
    resp = client.post("/api/chat", json={"course_id": client.course_id, "question": "What does chlorophyll absorb?"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["grounded"] and body["generator"] == "extractive" and not body["fallback"]
    assert "light" in body["answer"].lower() and "[1]" in body["answer"]
    source = body["sources"][0]
    assert source["file"] == "biology.pdf" and source["page"] >= 1 and "chlorophyll" in source["quote"].lower()
    assert source["quote"] in _page_text(client, source)

    follow = client.post("/api/chat", json={"course_id": client.course_id, "session_id": body["session_id"],
                                            "question": "Where does it take place?"}).json()
    assert follow["session_id"] == body["session_id"] and follow["grounded"]
    assert "chloroplast" in follow["answer"].lower()
    # Both exchanges are kept, so later follow-ups see them.
    from profai.db import chat_repo
    from profai.db.engine import session_scope

    with session_scope(client.app.state.ctx.sessions) as session:
        turns = chat_repo.recent_turns(session, body["session_id"])
        assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]


def _page_text(client, source) -> str:
    course = client.get(f"/api/courses/{client.course_id}").json()
    return " ".join(" ".join(lesson["content"].split()) for m in course["modules"] for lesson in m["lessons"]
                    if lesson["page_start"] <= source["page_end"] and lesson["page_end"] >= source["page"])


def test_chat_says_so_when_the_course_has_no_answer(client):
    body = client.post("/api/chat", json={"course_id": client.course_id,
                                          "question": "Who won the football world cup in 1998?"}).json()
    assert body["grounded"] is False and body["sources"] == []
    assert "couldn't find" in body["answer"].lower()


@pytest.mark.parametrize(("payload", "status", "code"), [
    ({"course_id": 999999, "question": "What is ATP?"}, 404, "course_not_found"),
    ({"question": "What is ATP?"}, 422, "missing_field"),
    ({"course_id": "COURSE", "question": "What is ATP?"}, 422, "invalid_input"),
    ({"question": " ", "course_id": 1}, 422, "empty_question"),
    ({"question": "why " * 600, "course_id": 1}, 422, "question_too_long"),
    ({"question": "What is ATP?", "course_id": 1, "session_id": "no-such-session"}, 404, "session_not_found"),
])
def test_chat_bad_input(client, payload, status, code):
    if payload.get("course_id") == 1:
        payload = {**payload, "course_id": client.course_id}
    resp = client.post("/api/chat", json=payload)
    assert resp.status_code == status and resp.json()["code"] == code, resp.text


def test_websocket_streams_tokens_then_sources_then_end_and_survives_bad_messages(client):
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_text("this is not json")
        assert ws.receive_json() == {"type": "error", "code": "invalid_json", "message": "The message is not valid JSON"}
        ws.send_json({"question": "What is ATP?"})
        assert ws.receive_json()["code"] == "missing_course_id"
        ws.send_json({"course_id": 424242, "question": "What is ATP?"})
        assert ws.receive_json()["code"] == "course_not_found"

        ws.send_json({"course_id": client.course_id, "question": "How does yeast ferment glucose?", "audio": True})
        frames = []
        while not frames or frames[-1]["type"] != "end":
            frames.append(ws.receive_json())
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "session" and kinds[-3:] == ["sources", "audio", "end"]
    tokens = [f["text"] for f in frames if f["type"] == "token"]
    assert len(tokens) >= 2 and "".join(tokens) == frames[-1]["answer"]
    assert "ethanol" in frames[-1]["answer"].lower()
    assert frames[kinds.index("sources")]["sources"][0]["file"] == "biology.pdf"
    import base64

    audio = frames[kinds.index("audio")]
    with wave.open(io.BytesIO(base64.b64decode(audio["data"]))) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(audio["seconds"], rel=0.05)


def test_quiz_round_trip(client):
    resp = client.post(f"/api/courses/{client.course_id}/quizzes", json={"questions": 3, "difficulty": "easy",
                                                                         "seed": 11, "max_attempts": 1})
    assert resp.status_code == 201, resp.text
    quiz = resp.json()
    assert len(quiz["questions"]) == 3
    for q in quiz["questions"]:
        assert len(q["options"]) == 4 and len(set(q["options"])) == 4
        assert "correct_index" not in q and "explanation" not in q and q["source"]["file"] == "biology.pdf"
        assert q["kind"] in ("cloze", "definition", "true_statement")
        assert q["prompt"].count("_____") == (q["kind"] == "cloze")  # one blank in a cloze prompt, else none
    assert client.get(f"/api/quizzes/{quiz['quiz_id']}").json()["questions"] == quiz["questions"]
    same = client.post(f"/api/courses/{client.course_id}/quizzes", json={"questions": 3, "difficulty": "easy",
                                                                         "seed": 11}).json()
    assert [(q["prompt"], q["options"]) for q in same["questions"]] == [(q["prompt"], q["options"])
                                                                        for q in quiz["questions"]]

    answers = {q["id"]: 0 for q in quiz["questions"]}
    resp = client.post(f"/api/quizzes/{quiz['quiz_id']}/attempts", json={"answers": answers, "student": "ada"})
    assert resp.status_code == 201, resp.text
    attempt = resp.json()
    assert attempt["total"] == 3 and attempt["score"] == sum(f["correct"] for f in attempt["feedback"])
    for f in attempt["feedback"]:
        assert f["correct"] == (f["correct_index"] == 0)
        assert f["explanation"] and f["source"]["page"] >= 1
    listed = client.get(f"/api/quizzes/{quiz['quiz_id']}/attempts").json()["attempts"]
    assert [a["attempt_id"] for a in listed] == [attempt["attempt_id"]]
    again = client.post(f"/api/quizzes/{quiz['quiz_id']}/attempts", json={"answers": answers})
    assert again.status_code == 409 and again.json()["code"] == "attempts_exhausted"


def test_unseeded_quizzes_differ(client):
    prompts = {tuple(q["prompt"] for q in client.post(f"/api/courses/{client.course_id}/quizzes",
                                                       json={"questions": 3}).json()["questions"])
               for _ in range(4)}
    assert len(prompts) > 1


def test_quiz_bad_input(client):
    cid = client.course_id
    quiz = client.post(f"/api/courses/{cid}/quizzes", json={"questions": 2, "seed": 3}).json()
    first = quiz["questions"][0]["id"]
    cases = [
        (client.post("/api/courses/999999/quizzes", json={}), 404, "course_not_found"),
        (client.post(f"/api/courses/{cid}/quizzes", json={"module_id": 999999}), 404, "module_not_found"),
        (client.post(f"/api/courses/{cid}/quizzes", json={"questions": 0}), 422, "invalid_question_count"),
        (client.post(f"/api/courses/{cid}/quizzes", json={"difficulty": "brutal"}), 422, "invalid_difficulty"),
        (client.get("/api/quizzes/nope"), 404, "quiz_not_found"),
        (client.post("/api/quizzes/nope/attempts", json={"answers": {"q1": 0}}), 404, "quiz_not_found"),
        (client.post(f"/api/quizzes/{quiz['quiz_id']}/attempts", json={}), 422, "missing_field"),
        (client.post(f"/api/quizzes/{quiz['quiz_id']}/attempts", json={"answers": {first: 0}}), 422,
         "missing_answers"),
        (client.post(f"/api/quizzes/{quiz['quiz_id']}/attempts", json={"answers": {"q1": 0, "q2": 0, "q99": 1}}),
         422, "unknown_question"),
        (client.post(f"/api/quizzes/{quiz['quiz_id']}/attempts", json={"answers": {"q1": 7, "q2": 0}}), 422,
         "invalid_option"),
    ]
    for resp, status, code in cases:
        assert (resp.status_code, resp.json()["code"]) == (status, code), resp.text


def test_lesson_audio_is_generated_once_and_tts_is_limited(client):
    course = client.get(f"/api/courses/{client.course_id}").json()
    lesson = course["modules"][0]["lessons"][0]
    url = f"/api/courses/{client.course_id}/lessons/{lesson['id']}/audio"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(first.content)) as w:
        assert w.getnframes() / w.getframerate() > 5
    files = list((client.app.state.ctx.settings.data_dir / "audio").rglob("*.wav"))
    assert client.get(url).content == first.content
    assert list((client.app.state.ctx.settings.data_dir / "audio").rglob("*.wav")) == files

    spoken = client.post("/api/tts", json={"text": "Chlorophyll absorbs red and blue light.", "language": "en"})
    assert spoken.status_code == 200 and spoken.content[:4] == b"RIFF"
    for payload, code in [({"text": "  "}, "empty_text"), ({"text": "x" * 501}, "text_too_long"),
                          ({"text": "hello", "voice": "klingon"}, "unknown_voice")]:
        resp = client.post("/api/tts", json=payload)
        assert resp.status_code == 422 and resp.json()["code"] == code
    assert client.get(f"/api/courses/{client.course_id}/lessons/999999/audio").json()["code"] == "lesson_not_found"
    assert client.get(f"/api/courses/999999/lessons/{lesson['id']}/audio").json()["code"] == "course_not_found"

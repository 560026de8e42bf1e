"""Chat that stays: a student's conversations are listed and reopened with their sources, only by
them; "ask about this lesson" answers from that lesson's pages; a streamed answer can be stopped,
and a client that goes away mid-answer leaves a clean server and the answer so far kept."""

from __future__ import annotations

import threading

import pytest

from profai.api import chat_frames
from profai.api.chat_frames import SOCKETS
from profai.api.routes import chat as chat_route
from study_kit import build_class
from support import wait_until


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    yield from build_class(tmp_path_factory.mktemp("chat-history"))


def ask(klass, who: str, question: str, **extra) -> dict:
    resp = klass.call(who, "POST", "/api/chat", json={"course_id": klass.course["id"], "question": question, **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_conversations_are_listed_and_reopened_with_their_sources(klass):
    first = ask(klass, "s1", "What does chlorophyll absorb?")
    ask(klass, "s1", "Where does it take place?", session_id=first["session_id"])
    second = ask(klass, "s1", "How does yeast ferment glucose?")

    listed = klass.call("s1", "GET", f"/api/courses/{klass.course['id']}/chats").json()
    mine = {c["session_id"]: c for c in listed["chats"]}
    assert list(mine)[:2] == [second["session_id"], first["session_id"]]  # latest first
    assert mine[first["session_id"]]["title"] == "What does chlorophyll absorb?"
    assert mine[first["session_id"]]["messages"] == 4 and mine[second["session_id"]]["messages"] == 2
    assert listed["total"] == len(listed["chats"])

    chat = klass.call("s1", "GET", f"/api/chats/{first['session_id']}").json()
    assert chat["course_id"] == klass.course["id"] and not chat["truncated"]
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant", "user", "assistant"]
    assert chat["messages"][0]["content"] == "What does chlorophyll absorb?"
    assert chat["messages"][1]["content"] == first["answer"]
    assert chat["messages"][1]["sources"] == first["sources"] and first["sources"]

    assert chat["title"] == "What does chlorophyll absorb?"

    # Paging: one at a time, the same order.
    page = klass.call("s1", "GET", f"/api/courses/{klass.course['id']}/chats?limit=1&offset=1").json()
    assert [c["session_id"] for c in page["chats"]] == [listed["chats"][1]["session_id"]]


def test_a_conversation_is_its_owners_alone(klass):
    mine = ask(klass, "s1", "What is the Calvin cycle?")["session_id"]
    ask(klass, "s2", "What is an allele?")
    # Another student of the class, the course's teacher and an admin: the conversation does not exist.
    for who in ("s2", "teacher", "admin", "other_teacher", "s3"):
        for method in ("GET", "DELETE"):
            resp = klass.call(who, method, f"/api/chats/{mine}")
            assert resp.status_code == 404 and resp.json()["code"] == "session_not_found", (who, method)
        listed = klass.call(who, "GET", f"/api/courses/{klass.course['id']}/chats")
        if who in ("other_teacher", "s3"):  # not readers of the course
            assert listed.status_code == 404 and listed.json()["code"] == "course_not_found"
        else:
            assert mine not in {c["session_id"] for c in listed.json()["chats"]}
    # Nor can they continue it.
    resp = klass.call("s2", "POST", "/api/chat", json={"course_id": klass.course["id"], "question": "And then?",
                                                        "session_id": mine})
    assert resp.status_code == 404 and resp.json()["code"] == "session_not_found"

    assert klass.call("s1", "DELETE", f"/api/chats/{mine}").status_code == 204
    assert klass.call("s1", "GET", f"/api/chats/{mine}").json()["code"] == "session_not_found"
    assert mine not in {c["session_id"] for c in klass.call("s1", "GET",
                                                           f"/api/courses/{klass.course['id']}/chats").json()["chats"]}


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/api/chats/" + "x" * 65, 422, "invalid_input"),
    ("GET", "/api/chats/no-such-session", 404, "session_not_found"),
    ("DELETE", "/api/chats/no-such-session", 404, "session_not_found"),
    ("GET", "/api/courses/1/chats?limit=0", 422, "invalid_input"),
    ("GET", "/api/courses/1/chats?limit=101", 422, "invalid_input"),
    ("GET", "/api/courses/1/chats?offset=-1", 422, "invalid_input"),
    ("GET", "/api/courses/1/chats?limit=ten", 422, "invalid_input"),
    ("GET", f"/api/courses/{2**31}/chats", 422, "invalid_input"),
    ("GET", "/api/courses/abc/chats", 422, "invalid_input"),
    ("GET", "/api/courses/999999/chats", 404, "course_not_found"),
])
def test_bad_history_requests(klass, method, path, status, code):
    path = path.replace("/courses/1/", f"/courses/{klass.course['id']}/")
    resp = klass.call("s1", method, path)
    assert resp.status_code == status and resp.json()["code"] == code, resp.text


def _pages(lesson: dict) -> range:
    return range(lesson["page_start"], lesson["page_end"] + 1)


def test_asking_about_a_lesson_answers_from_its_pages_only(klass):
    lessons = klass.lessons()
    photo = next(lesson for lesson in lessons if "photosynthesis" in lesson["title"].lower())
    genetics = next(lesson for lesson in lessons if "genetics" in lesson["title"].lower())
    course_wide = ask(klass, "s1", "What does chlorophyll absorb?")
    assert any(s["page"] in _pages(photo) for s in course_wide["sources"])

    within = ask(klass, "s1", "What does chlorophyll absorb?", lesson_id=photo["id"])
    assert within["sources"] and "light" in within["answer"].lower()
    assert all(s["file"] == photo["source_file"] and s["page"] in _pages(photo) for s in within["sources"])
    # The same question narrowed to the genetics lesson cites nothing from photosynthesis' pages.
    elsewhere = ask(klass, "s1", "What does chlorophyll absorb?", lesson_id=genetics["id"])
    assert all(s["page"] in _pages(genetics) for s in elsewhere["sources"])


@pytest.mark.parametrize(("lesson", "status", "code"), [
    ("other", 404, "lesson_not_found"),  # a lesson of another course
    (999999, 404, "lesson_not_found"),
    ("abc", 422, "invalid_input"),
    (0, 422, "invalid_input"),
    (2**31, 422, "invalid_input"),
    (True, 422, "invalid_input"),
    (1.5, 422, "invalid_input"),
])
def test_bad_lesson_ids_are_refused(klass, lesson, status, code):
    if lesson == "other":
        lesson = klass.lessons(klass.other_course)[0]["id"]
    resp = klass.call("s1", "POST", "/api/chat", json={"course_id": klass.course["id"], "question": "What is ATP?",
                                                        "lesson_id": lesson})
    assert resp.status_code == status and resp.json()["code"] == code, resp.text


def test_the_socket_takes_a_lesson_and_checks_it(klass):
    # Not the photosynthesis lesson: the whole course answers from its pages, so the check below
    # would pass were lesson_id dropped on the way.
    lesson = next(lesson for lesson in klass.lessons() if "genetics" in lesson["title"].lower())
    with klass.client.websocket_connect("/ws/chat", headers=klass.as_("s1")) as ws:
        for bad, code in (("1", "invalid_field"), (0, "invalid_field"), (2**40, "invalid_field"),
                          (klass.lessons(klass.other_course)[0]["id"], "lesson_not_found")):
            ws.send_json({"course_id": klass.course["id"], "question": "What is ATP?", "lesson_id": bad})
            frame = ws.receive_json()
            assert frame["type"] == "error" and frame["code"] == code, frame
        ws.send_json({"course_id": klass.course["id"], "question": "What does chlorophyll absorb?",
                      "lesson_id": lesson["id"]})
        frames = [ws.receive_json()]
        while frames[-1]["type"] != "end":
            frames.append(ws.receive_json())
    sources = next(f["sources"] for f in frames if f["type"] == "sources")
    assert all(s["page"] in _pages(lesson) for s in sources)


class Gate:
    """Holds the generator after its first piece until released, so a stop lands mid-answer."""

    def __init__(self, klass, monkeypatch) -> None:
        self.first = threading.Event()
        self.go = threading.Event()
        real = klass.ctx.generator.stream_answer

        def stream_answer(*args, **kwargs):
            for n, piece in enumerate(real(*args, **kwargs)):
                yield piece
                if n == 0:
                    self.first.set()
                    self.go.wait(30)

        monkeypatch.setattr(klass.ctx.generator, "stream_answer", stream_answer)
        self.stop_read = threading.Event()

        def is_stop(frame):
            if found := chat_frames.is_stop(frame):
                self.stop_read.set()
            return found

        monkeypatch.setattr(chat_route, "is_stop", is_stop)


def test_stop_ends_the_answer_and_keeps_what_was_said(klass, monkeypatch):
    gate = Gate(klass, monkeypatch)
    with klass.client.websocket_connect("/ws/chat", headers=klass.as_("s1")) as ws:
        ws.send_json({"type": "stop"})  # nothing to stop yet: ignored
        assert gate.stop_read.wait(30)
        gate.stop_read.clear()
        ws.send_json({"course_id": klass.course["id"], "question": "How does yeast ferment glucose?"})
        session = ws.receive_json()
        token = ws.receive_json()
        assert session["type"] == "session" and token["type"] == "token"
        ws.send_json({"type": "stop"})
        assert gate.stop_read.wait(30)  # read while the generator is held after its first piece
        gate.go.set()
        frames = [ws.receive_json()]
        while frames[-1]["type"] not in ("stopped", "end"):
            frames.append(ws.receive_json())
        stopped = frames[-1]
        assert stopped["type"] == "stopped" and stopped["session_id"] == session["session_id"]
        assert stopped["answer"].startswith(token["text"].strip())
        # The socket goes on: the next question is answered in full.
        ws.send_json({"course_id": klass.course["id"], "question": "What is an allele?",
                      "session_id": session["session_id"]})
        while (frame := ws.receive_json())["type"] != "end":
            assert frame["type"] in ("token", "sources", "session"), frame
    chat = klass.call("s1", "GET", f"/api/chats/{session['session_id']}").json()
    contents = [m["content"] for m in chat["messages"]]
    assert contents[:2] == ["How does yeast ferment glucose?", stopped["answer"]]
    assert contents[2] == "What is an allele?" and len(contents) == 4


def test_a_client_that_leaves_mid_answer_leaves_a_clean_server(klass, monkeypatch):
    gate = Gate(klass, monkeypatch)
    before = dict(SOCKETS._open)
    with klass.client.websocket_connect("/ws/chat", headers=klass.as_("s2")) as ws:
        ws.send_json({"course_id": klass.course["id"], "question": "What is the Krebs cycle?"})
        session = ws.receive_json()["session_id"]
        assert ws.receive_json()["type"] == "token"
        # The client goes (closed inside the block: leaving it would also cancel the app, which a
        # real server does not do), then the generator goes on to its next piece and finds it gone.
        ws.close(1001)
        gate.go.set()
        wait_until(lambda: SOCKETS._open == before, timeout=30, message="the socket's slot to be given back")
    chat = wait_until(lambda: (c := klass.call("s2", "GET", f"/api/chats/{session}").json()).get("messages") and c,
                      timeout=30, message="the partial exchange to be saved")
    assert chat["messages"][0]["content"] == "What is the Krebs cycle?" and len(chat["messages"]) == 2


def test_a_long_conversation_reopens_with_its_latest_messages(klass, monkeypatch):
    from profai.services import chat_history

    first = ask(klass, "s2", "What is glycolysis?")
    ask(klass, "s2", "What is fermentation?", session_id=first["session_id"])
    monkeypatch.setattr(chat_history, "MAX_MESSAGES", 2)
    chat = klass.call("s2", "GET", f"/api/chats/{first['session_id']}").json()
    assert chat["truncated"] and [m["content"] for m in chat["messages"]][0] == "What is fermentation?"
    assert chat["title"] == "What is glycolysis?"  # still the first question

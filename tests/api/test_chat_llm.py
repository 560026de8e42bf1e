"""GENERATOR=openai end to end: a course built and answered by a language model (a real local
OpenAI-format server), and the extractive backend answering when that server fails."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from factories import make_pdf
from fakes.openai_server import FakeOpenAI
from profai.api import create_app
from profai.providers import http_retry
from profai.wiring import build_container
from support import ADMIN_HEADERS, make_settings, record_sleeps, upload_course

QUESTION = "What does chlorophyll absorb?"


def model_reply(body: dict) -> str:
    """Lessons: the source marked as rewritten. Answers: a sentence citing the passage about chlorophyll."""
    if body.get("stream"):
        blocks = re.split(r"^\[(\d+)\] ", body["messages"][0]["content"], flags=re.MULTILINE)[1:]
        cited = next((n for n, text in zip(blocks[::2], blocks[1::2]) if "Chlorophyll absorbs" in text), None)
        return f"Chlorophyll absorbs red and blue light [{cited}]." if cited else "NOT_IN_COURSE"
    prompt = next(m["content"] for m in body["messages"] if "<source>" in m["content"])
    source = re.search(r"<source>\n(.*)\n</source>", prompt, re.DOTALL).group(1)
    return json.dumps({"content": "Rewritten. " + source, "summary": source.split(". ")[0] + ".",
                       "key_terms": re.findall(r"[A-Za-z]{7,}", source)[:3]})


@pytest.fixture(scope="module")
def api():
    with FakeOpenAI(reply=model_reply) as server:
        yield server


@pytest.fixture(scope="module")
def client(tmp_path_factory, api):
    root = tmp_path_factory.mktemp("llm")
    settings = make_settings(root / "data", GENERATOR="openai", LLM_BASE_URL=api.url, LLM_MODEL="fake-model",
                             LLM_TIMEOUT_SECONDS=1)
    ctx = build_container(settings, compute_processes=0)
    ctx.runner.start()
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as c:
        c.course_id = upload_course(c, make_pdf(root / "biology.pdf"), "Biology")
        yield c
    ctx.close()


def test_the_model_writes_the_lessons_and_answers_with_sources_until_it_fails(client, api, monkeypatch):
    course = client.get(f"/api/courses/{client.course_id}").json()
    lessons = [lesson for m in course["modules"] for lesson in m["lessons"]]
    assert lessons and all(lesson["content"].startswith("Rewritten.") for lesson in lessons)
    assert [(lesson["page_start"], lesson["page_end"]) for lesson in lessons] == [(1, 1), (2, 2), (3, 3)]

    body = client.post("/api/chat", json={"course_id": client.course_id, "question": QUESTION}).json()
    assert body["generator"] == "openai:fake-model" and body["grounded"] and not body["fallback"]
    assert body["note"] is None and re.fullmatch(r"Chlorophyll absorbs red and blue light \[\d\]\.", body["answer"])
    source = body["sources"][0]
    assert source["file"] == "biology.pdf" and source["page"] == 1 and "Chlorophyll absorbs" in source["quote"]

    api.set_faults(p500=1.0)
    slept = record_sleeps(monkeypatch, http_retry, really=True)  # really: the deadline counts real time
    try:
        down = client.post("/api/chat", json={"course_id": client.course_id, "question": QUESTION,
                                              "session_id": body["session_id"]}).json()
        assert slept and sum(slept) < 2  # the retries' waits fit in the answer's deadline, twice LLM_TIMEOUT_SECONDS
        assert down["generator"] == "extractive" and down["fallback"] and down["note"]
        assert down["grounded"] and "[1]" in down["answer"] and down["sources"][0]["file"] == "biology.pdf"

        with client.websocket_connect("/ws/chat") as ws:
            ws.send_json({"course_id": client.course_id, "question": QUESTION})
            frames = [ws.receive_json()]
            while frames[-1]["type"] != "end":
                frames.append(ws.receive_json())
        end = frames[-1]
        assert end["generator"] == "extractive" and end["fallback"] and end["note"] == down["note"]
        assert "".join(f["text"] for f in frames if f["type"] == "token") == end["answer"]
    finally:
        api.set_faults()

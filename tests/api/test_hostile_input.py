"""Input an attacker would send gets a stable 4xx (or an error frame on the chat socket, which stays
open), never a 500 or a dropped connection."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factories import make_pdf
from profai.api import create_app
from profai.wiring import build_container
from support import ADMIN_HEADERS, make_settings, upload_course

BIG = 2**64 + 1  # past any 64-bit id


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    ctx = build_container(make_settings(root / "data", WS_MESSAGES_PER_SECOND=50, WS_MESSAGE_BURST=50,
                                        MAX_CHAT_SOCKETS=2), compute_processes=0)
    ctx.runner.start()
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as c:
        c.course_id = upload_course(c, make_pdf(root / "biology.pdf"), "Biology")
        yield c
    ctx.close()


@pytest.mark.parametrize("method,path,body", [
    ("GET", f"/api/courses/{BIG}", None),
    ("GET", f"/api/courses/{2**63}", None),
    ("GET", f"/api/courses/{2**31}", None),  # past the database's 32-bit id columns
    ("DELETE", f"/api/courses/{BIG}", None),
    ("GET", f"/api/courses/1/lessons/{BIG}/audio", None),
    ("GET", f"/api/courses?offset={BIG}", None),
    ("POST", f"/api/courses/{BIG}/quizzes", {}),
    ("PATCH", f"/api/users/{BIG}", {"disabled": True}),
    ("DELETE", f"/api/keys/{BIG}", None),
    ("POST", "/api/chat", {"course_id": BIG, "question": "What is a cell?"}),
    ("GET", "/api/v1/tasks/x?errors_offset=" + str(BIG), None),
])
def test_ids_and_offsets_past_64_bits_are_refused_with_422(client, method, path, body):
    resp = client.request(method, path, json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] in ("invalid_input", "missing_field")


@pytest.mark.parametrize("path", ["/api/jobs/abc%00def", "/api/v1/tasks/%00", "/api/courses?limit=1%00",
                                  "/static/app.js%00.png"])
def test_a_nul_byte_in_the_address_is_a_400(client, path):
    resp = client.get(path)
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_path"


@pytest.mark.parametrize("where", [
    {f"c{n}": "x" for n in range(17)},
    {"topic": {"$in": list(range(101))}},
    {"topic": {"$in": []}},
    {"topic": "x" * 501},
    {"topic": 2**70},
    {"topic": {"$gt": [1, 2]}},
    {"$or": [{"a": 1}]},
    {"k" * 65: 1},
])
def test_query_filters_are_bounded(client, where):
    resp = client.post("/api/v1/query", json={"namespace": "none", "query": "boots", "filter": where})
    # The filter is judged before the namespace is looked up: no store is asked for an unbounded query.
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] in ("invalid_filter", "filter_too_large")


def _error(ws) -> dict:
    frame = ws.receive_json()
    assert frame["type"] == "error", frame
    return frame


def test_every_bad_chat_frame_gets_an_error_frame_and_the_socket_stays_open(client):
    deep = "[" * 100_000 + "]" * 100_000
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_bytes(b'{"course_id": 1, "question": "hi"}')
        assert _error(ws)["code"] == "binary_not_supported"
        for text, code in (
            ("not json", "invalid_json"),
            (deep[:16_000], "invalid_json"),  # nested deeper than the parser goes, inside the size limit
            ('[{"course_id": 1}]', "invalid_message"),
            ('{"question": "hi"}', "missing_course_id"),
            ('{"course_id": "1", "question": "hi"}', "invalid_field"),
            ('{"course_id": true, "question": "hi"}', "invalid_field"),
            (f'{{"course_id": {BIG}, "question": "hi"}}', "invalid_field"),
            ('{"course_id": 1, "question": {"a": {"b": [1]}}}', "invalid_field"),
            ('{"course_id": 1, "question": "hi", "extra": 1}', "unknown_field"),
            ('{"course_id": 1, "question": "hi", "session_id": "' + "s" * 65 + '"}', "invalid_field"),
            ('{"course_id": 999999, "question": "hi"}', "course_not_found"),
            (f'{{"course_id": {client.course_id}, "question": "hi", "session_id": "nope"}}', "session_not_found"),
            ('{"course_id": 1, "question": "' + "x" * 17_000 + '"}', "message_too_large"),
            ('{"course_id": 1, "question": "a\\u0000b"}', "invalid_field"),
        ):
            ws.send_text(text)
            assert _error(ws)["code"] == code, text[:60]
        # Still open and working after all that.
        ws.send_json({"course_id": client.course_id, "question": "What does chlorophyll absorb?"})
        assert ws.receive_json()["type"] == "session"
        while (frame := ws.receive_json())["type"] != "end":
            assert frame["type"] in ("token", "sources")


def test_chat_messages_past_the_rate_get_an_error_frame(tmp_path):
    ctx = build_container(make_settings(tmp_path / "data", WS_MESSAGES_PER_SECOND=0.001, WS_MESSAGE_BURST=2),
                          compute_processes=0)
    try:
        with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client, \
                client.websocket_connect("/ws/chat") as ws:
            for _ in range(2):
                ws.send_text("{}")
                assert _error(ws)["code"] == "missing_course_id"  # within the burst: judged on its merits
            ws.send_text("{}")
            limited = _error(ws)
            assert limited["code"] == "rate_limited"
    finally:
        ctx.close()


def test_a_user_holds_a_bounded_number_of_chat_sockets(client):
    with client.websocket_connect("/ws/chat"), client.websocket_connect("/ws/chat"), \
            client.websocket_connect("/ws/chat") as third:
        assert _error(third)["code"] == "too_many_sockets"
    with client.websocket_connect("/ws/chat") as again:  # closed ones no longer count
        again.send_text("{}")
        assert _error(again)["code"] == "missing_course_id"


def test_a_nul_in_an_upload_field_is_a_422_and_nothing_is_kept(client, tmp_path):
    pdf = make_pdf(tmp_path / "b.pdf")
    uploads = client.app.state.ctx.settings.data_dir / "uploads"
    before = sorted(uploads.rglob("*.pdf"))
    with pdf.open("rb") as f:
        resp = client.post("/api/upload-pdfs", data={"course_title": "Bio\x00logy"},
                           files={"files": ("b.pdf", f, "application/pdf")})
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_field"
    assert sorted(uploads.rglob("*.pdf")) == before

"""The OpenAPI document tells the truth about errors and identities: every 4xx is our ErrorBody
(FastAPI's HTTPValidationError is gone), real error answers validate against it, a 405 says which
methods the path has, and the operations that need no identity are exactly the public ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from profai.api import create_app
from profai.wiring import build_container
from support import ADMIN_HEADERS, make_settings

PUBLIC = {("GET", "/health"), ("GET", "/api/v1/health"), ("GET", "/api/setup"), ("POST", "/api/setup"),
          ("POST", "/api/auth/login")}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    ctx = build_container(make_settings(tmp_path_factory.mktemp("openapi") / "data"), compute_processes=0)
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as c:
        yield c
    ctx.close()


@pytest.fixture(scope="module")
def doc(client) -> dict[str, Any]:
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    return resp.json()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def conforms(doc: dict[str, Any], schema: dict[str, Any], body: Any) -> list[str]:
    """The validation errors of `body` against `schema`, whose refs point into the document."""
    validator = jsonschema_rs.validator_for({**schema, "components": doc["components"]})
    return [error.message for error in validator.iter_errors(body)]


def test_every_error_answer_in_the_document_is_our_error_body(doc):
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "ValidationError" not in doc["components"]["schemas"]
    for method, path, operation in operations(doc):
        answers = operation["responses"]
        errors = {status: answer for status, answer in answers.items() if status.startswith("4")}
        assert {"400", "413"} <= set(errors), (method, path)  # the Host check and the body cap see every request
        for status, answer in errors.items():
            assert answer["content"] == {"application/json": {"schema": ERROR_BODY}}, (method, path, status)
            assert answer["description"], (method, path, status)
        if any(p["in"] in ("path", "query") for p in operation.get("parameters", ())) or "requestBody" in operation:
            assert "422" in errors, (method, path)
    body = doc["components"]["schemas"]["ErrorBody"]
    assert body["required"] == ["code", "message", "detail"] and body["additionalProperties"] is False
    assert body["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldProblem"}


def test_the_operations_without_an_identity_are_exactly_the_public_ones(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    for method, path, operation in operations(doc):
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)  # (login still answers 401 to a wrong password)
        else:
            assert operation["security"] == [{"apiKey": []}, {"bearer": []}, {"session": []}], (method, path)
            assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True


def test_a_validation_error_answers_with_the_documented_422(client, doc):
    resp = client.get("/api/courses/99999999999999999999999?limit=0")  # past any id, and a limit out of range
    assert resp.status_code == 422
    schema = doc["paths"]["/api/courses/{course_id}"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert conforms(doc, schema, resp.json()) == []
    assert resp.json()["code"] == "invalid_input"
    assert {e["field"] for e in resp.json()["errors"]} == {"course_id"}

    missing = client.post("/api/chat", json={"question": "why?"})
    assert missing.status_code == 422 and missing.json()["code"] == "missing_field"
    assert conforms(doc, schema, missing.json()) == []
    assert missing.json()["errors"] == [{"field": "course_id", "problem": "Field required"}]

    # The documented body is exact: anything else in an error answer fails it.
    assert conforms(doc, schema, {**resp.json(), "extra": 1})
    assert conforms(doc, schema, {k: v for k, v in resp.json().items() if k != "detail"})


def test_a_service_error_and_a_refused_identity_answer_as_documented(client, doc):
    not_found = client.get("/api/courses/7")
    assert not_found.status_code == 404 and not_found.json()["code"] == "course_not_found"
    assert "errors" not in not_found.json()
    assert conforms(doc, ERROR_BODY, not_found.json()) == []

    nobody = client.get("/api/courses", headers={"X-API-Key": "pk_not-a-key"})
    assert nobody.status_code == 401 and nobody.headers["WWW-Authenticate"].startswith("Bearer")
    assert conforms(doc, ERROR_BODY, nobody.json()) == []


def test_a_rate_limited_request_answers_with_the_documented_429(tmp_path, doc):
    ctx = build_container(make_settings(tmp_path / "data", RATE_LIMIT_PER_SECOND=0.01, RATE_LIMIT_BURST=1),
                          compute_processes=0)
    try:
        with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as c:
            assert c.get("/api/courses").status_code == 200
            limited = c.get("/api/courses")
    finally:
        ctx.close()
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["retry_after"] == int(limited.headers["Retry-After"])
    answer = doc["paths"]["/api/courses"]["get"]["responses"]["429"]
    assert conforms(doc, answer["content"]["application/json"]["schema"], limited.json()) == []
    assert answer["headers"]["Retry-After"]["required"] is True


@pytest.mark.parametrize("method,path,allowed", [
    ("PUT", "/api/courses/1", "GET, PATCH, DELETE"),  # three routes share the path: all methods are named
    ("PATCH", "/api/setup", "GET, POST"),
    ("OPTIONS", "/health", "GET"),
    ("DELETE", "/api/keys", "GET, POST"),
])
def test_a_wrong_method_answers_405_with_allow(client, doc, method, path, allowed):
    resp = client.request(method, path)
    assert resp.status_code == 405
    assert resp.headers["Allow"] == allowed
    assert resp.json() == {"code": "method_not_allowed", "message": "Method Not Allowed",
                           "detail": "Method Not Allowed"}
    assert conforms(doc, ERROR_BODY, resp.json()) == []
    documented = {m.upper() for m in doc["paths"][path.replace("/1", "/{course_id}")]}
    assert set(allowed.split(", ")) == documented


def test_an_unknown_path_answers_404_in_our_shape(client, doc):
    resp = client.get("/api/no-such-thing")
    assert resp.status_code == 404
    assert resp.json() == {"code": "not_found", "message": "Not Found", "detail": "Not Found"}
    assert conforms(doc, ERROR_BODY, resp.json()) == []


def test_numeric_bounds_are_exact_integers(doc):
    """FastAPI keeps component schemas' bounds as floats; 2**63 - 1 would round up to 2**63."""
    chat = doc["components"]["schemas"]["ChatIn"]["properties"]["course_id"]
    assert chat["minimum"] == 1 and isinstance(chat["exclusiveMaximum"], int)
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                assert not (key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
                            and isinstance(value, float)), (key, value)
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)

"""CSV datasets through the HTTP API in embedded mode: real CSV files, the real local model,
embedded Chroma, the local worker pool."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import make_csv, make_pdf
from profai.api import create_app
from profai.db.engine import session_scope
from profai.db.models import Dataset
from profai.domain import CLI
from profai.pipelines.csv_to_vectors import dataset_collection
from profai.wiring import build_container
from support import ADMIN_HEADERS, make_settings, wait_job


@pytest.fixture
def client(tmp_path):
    # Small parts so that a small file is split into several.
    ctx = build_container(make_settings(tmp_path / "data", CHUNK_SIZE=25, BATCH_SIZE=10), compute_processes=0)
    ctx.runner.start()
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as c:
        c.ctx = ctx
        yield c
    ctx.close()


def upload(client, path: Path, **form) -> dict:
    fields = {"namespace": "catalogue", "id_column": "id", "text_columns": "title,description",
              "metadata_columns": ["topic", "level"], **form}
    with path.open("rb") as f:
        return client.post("/api/v1/datasets", data=fields, files={"file": (path.name, f, "text/csv")})


def wait_task(client, task_id: str, timeout: float = 120) -> dict:
    return wait_job(client, task_id, timeout, path="/api/v1/tasks/")


def test_rows_are_indexed_in_parts_and_bad_rows_reported_by_line(client, tmp_path):
    bad = [["", "No id", "a row without an id", "music", "beginner"],
           ["row-3", "Duplicate", "this id was used on line 5", "music", "advanced"],
           ["row-x", "", "", "music", "beginner"],
           ["row-formula", "=SUM(A1:A9)", "+cmd|' /C calc'!A0 spreadsheet formula text", "@finance", "-1"]]
    path = make_csv(tmp_path / "catalogue.csv", 60, extra=bad)
    resp = upload(client, path)
    assert resp.status_code == 202, resp.text
    accepted = resp.json()
    assert accepted["status"] == "pending" and accepted["status_url"] == f"/api/v1/tasks/{accepted['task_id']}"

    body = wait_task(client, accepted["task_id"])
    assert body["status"] == "partially_completed", body
    assert body["total_rows"] == 64
    assert body["processed_rows"] == 61 and body["failed_rows"] == 3
    assert body["parts"] == {"total": 3, "done": 3, "failed": 0, "running": 0, "pending": 0}
    errors = {e["line"]: e["code"] for e in body["errors"]["items"]}
    # Header is line 1, 60 rows follow, so the extra rows are lines 62-65.
    assert errors == {62: "empty_id", 63: "duplicate_id", 64: "empty_text"}
    assert "line 5" in next(e["reason"] for e in body["errors"]["items"] if e["line"] == 63)
    assert client.ctx.vectors.count(dataset_collection("catalogue")) == 61
    with session_scope(client.ctx.sessions) as session:  # the record names the file by its content
        assert session.get(Dataset, accepted["task_id"]).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()

    hits = client.post("/api/v1/query", json={"namespace": "catalogue", "query": "baking bread in the oven",
                                              "top_k": 5}).json()["results"]
    assert len(hits) == 5 and all(h["metadata"]["topic"] == "cooking" for h in hits), hits
    assert hits[0]["score"] >= hits[-1]["score"]
    filtered = client.post("/api/v1/query", json={"namespace": "catalogue", "query": "stars and planets",
                                                  "top_k": 3, "filter": {"level": "advanced"}}).json()["results"]
    assert filtered and all(h["metadata"]["level"] == "advanced" for h in filtered)
    formula = client.post("/api/v1/query", json={"namespace": "catalogue", "query": "spreadsheet formula text",
                                                 "top_k": 1, "filter": {"topic": "@finance"}}).json()["results"][0]
    assert formula["id"] == "row-formula" and formula["line"] == 65
    assert formula["text"].startswith("=SUM(A1:A9)") and formula["metadata"] == {"topic": "@finance", "level": "-1"}


def test_reuploading_overwrites_and_delete_removes_vectors(client, tmp_path):
    path = make_csv(tmp_path / "c.csv", 30)
    first = wait_task(client, upload(client, path).json()["task_id"])
    second = wait_task(client, upload(client, path).json()["task_id"])
    assert first["status"] == second["status"] == "completed"
    collection = dataset_collection("catalogue")
    assert client.ctx.vectors.count(collection) == 30  # same ids, no duplicates

    listed = client.get("/api/v1/datasets", params={"namespace": "catalogue"}).json()["datasets"]
    assert {d["dataset_id"] for d in listed} == {first["task_id"], second["task_id"]}
    # The second upload wrote every row last, so deleting it removes all vectors; the first owns none.
    assert client.delete(f"/api/v1/datasets/{second['task_id']}").status_code == 204
    assert client.ctx.vectors.count(collection) == 0
    assert client.delete(f"/api/v1/datasets/{first['task_id']}").status_code == 204
    resp = client.post("/api/v1/query", json={"namespace": "catalogue", "query": "music"})
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_namespace"
    assert client.get(f"/api/v1/tasks/{first['task_id']}").json()["code"] == "task_not_found"
    assert not list((client.ctx.blobs.root / "datasets").rglob("*.*"))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_spreadsheet_encodings_are_read_correctly(client, tmp_path, encoding):
    path = make_csv(tmp_path / "enc.csv", 5, encoding=encoding,
                    extra=[["café", "Crème brûlée — “the” dessert", "caramelised sugar over custard, €4", "cooking",
                            "beginner"]])
    body = wait_task(client, upload(client, path).json()["task_id"])
    assert body["status"] == "completed", body
    hit = client.post("/api/v1/query", json={"namespace": "catalogue", "query": "caramel custard dessert",
                                             "top_k": 1}).json()["results"][0]
    assert hit["id"] == "café" and "Crème brûlée — “the” dessert" in hit["text"] and "€4" in hit["text"]


def test_template_builds_the_text(client, tmp_path):
    path = make_csv(tmp_path / "t.csv", 3)
    resp = upload(client, path, text_columns="", text_template="{title} ({level}): {description}")
    body = wait_task(client, resp.json()["task_id"])
    assert body["status"] == "completed"
    hit = client.post("/api/v1/query", json={"namespace": "catalogue", "query": "telescope", "top_k": 1}).json()
    assert " (" in hit["results"][0]["text"] and "): " in hit["results"][0]["text"]


@pytest.mark.parametrize(("make", "form", "status", "code"), [
    (lambda p: make_pdf(p), {}, 415, "not_a_csv"),
    (lambda p: (p.write_bytes(b""), p)[1], {}, 422, "empty_file"),
    (lambda p: (p.write_text("id,title,description,topic,level\n"), p)[1], {}, 422, "header_only"),
    (lambda p: make_csv(p, 3), {"id_column": "sku"}, 422, "missing_id_column"),
    (lambda p: make_csv(p, 3), {"text_columns": "summary"}, 422, "missing_text_columns"),
    (lambda p: make_csv(p, 3), {"text_columns": ""}, 422, "missing_text_columns"),
    (lambda p: make_csv(p, 3), {"text_columns": "", "text_template": "{title}: {body}"}, 422,
     "unknown_template_columns"),
    (lambda p: make_csv(p, 3), {"namespace": "no spaces/allowed"}, 422, "invalid_namespace"),
    (lambda p: make_csv(p, 3), {"namespace": ""}, 422, "missing_namespace"),
])
def test_bad_files_and_requests_get_clear_errors_and_leave_nothing(client, tmp_path, make, form, status, code):
    path = make(tmp_path / "input.csv")
    resp = upload(client, path, **form)
    assert resp.status_code == status, resp.text
    assert resp.json()["code"] == code
    assert client.get("/api/v1/datasets").json()["datasets"] == []
    assert not list((client.ctx.blobs.root / "datasets").rglob("*.csv"))


def test_missing_file_unknown_task_and_bad_queries(client, tmp_path):
    resp = client.post("/api/v1/datasets", data={"namespace": "n", "id_column": "id", "text_columns": "title"})
    assert resp.status_code == 422 and resp.json()["code"] == "no_files"
    assert client.get("/api/v1/tasks/nope").json()["code"] == "task_not_found"
    assert client.post("/api/v1/tasks/nope/retry").json()["code"] == "task_not_found"
    assert client.delete("/api/v1/datasets/nope").json()["code"] == "dataset_not_found"
    wait_task(client, upload(client, make_csv(tmp_path / "q.csv", 3)).json()["task_id"])
    for body, code in [({"namespace": "catalogue", "query": " "}, "empty_query"),
                       ({"namespace": "catalogue", "query": "x", "top_k": 0}, "invalid_top_k"),
                       ({"namespace": "catalogue", "query": "x", "filter": {"level": {"$regex": ".*"}}},
                        "invalid_filter"),
                       ({"namespace": "elsewhere", "query": "x"}, "unknown_namespace"),
                       ({"query": "x"}, "missing_field")]:
        resp = client.post("/api/v1/query", json=body)
        assert resp.status_code in (404, 422) and resp.json()["code"] == code, (body, resp.text)


def test_oversized_or_extra_files_are_refused_while_streaming_and_leave_nothing(tmp_path):
    ctx = build_container(make_settings(tmp_path / "data", MAX_DATASET_MB=0.01), compute_processes=0)
    path = make_csv(tmp_path / "big.csv", 200)
    assert path.stat().st_size > 0.01 * 1024 * 1024
    small = make_csv(tmp_path / "small.csv", 3).read_bytes()
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        client.ctx = ctx
        resp = upload(client, path)
        assert resp.status_code == 413 and resp.json()["code"] == "file_too_large", resp.text
        assert "big.csv" in resp.json()["message"]
        resp = client.post("/api/v1/datasets", data={"namespace": "n", "id_column": "id", "text_columns": "title"},
                           files=[("file", ("a.csv", small, "text/csv")), ("file", ("b.csv", small, "text/csv"))])
        assert resp.status_code == 422 and resp.json()["code"] == "too_many_files", resp.text
        assert client.get("/api/v1/datasets").json()["datasets"] == []
        assert not [p for p in ctx.blobs.root.rglob("*") if p.is_file()]
    ctx.close()


@pytest.mark.parametrize("way", ["http", "stream"])
def test_an_upload_reads_its_csv_once_while_writing_it(tmp_path, monkeypatch, way):
    """Header, encoding, data lines and sha256 come from the pieces as the blob store writes them:
    the stored file is never opened to be read again, nor do the full-read functions run."""
    import builtins
    import io

    from profai.db.models import Job
    from profai.ingest import csv_rows
    from profai.services import datasets
    from profai.services.uploads import IncomingFile

    ctx = build_container(make_settings(tmp_path / "data"), compute_processes=0)  # no runner: the job waits
    path = make_csv(tmp_path / "once.csv", 40, encoding="cp1252", extra=[["café", "Crème", "brûlée €4", "x", "y"]])
    data = path.read_bytes()

    def second_pass(*args, **kwargs):
        raise AssertionError("the upload read its file a second time")

    monkeypatch.setattr(csv_rows, "read_header", second_pass)
    monkeypatch.setattr(csv_rows, "count_data_lines", second_pass)
    real_open = builtins.open

    def write_only_in_the_store(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, Path)) and ctx.blobs.root in Path(file).parents and "w" not in mode:
            raise AssertionError(f"{file} opened with mode {mode!r}")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", write_only_in_the_store)
    monkeypatch.setattr(io, "open", write_only_in_the_store)  # Path.open
    fields = {"namespace": "catalogue", "id_column": "id", "text_columns": ("title", "description")}
    if way == "http":
        with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
            resp = client.post("/api/v1/datasets", data=fields, files={"file": ("once.csv", data, "text/csv")})
            assert resp.status_code == 202, resp.text
            task_id = resp.json()["task_id"]
    else:
        with real_open(path, "rb") as f:
            task_id = datasets.start_dataset(ctx, CLI, IncomingFile("once.csv", f), **fields).id
    monkeypatch.undo()
    with session_scope(ctx.sessions) as session:
        header = session.get(Job, task_id).payload["header"]
        dataset = session.get(Dataset, task_id)
        assert (dataset.sha256, dataset.filename) == (hashlib.sha256(data).hexdigest(), "once.csv")
    assert header["encoding"] == "cp1252" and header["columns"] == ["id", "title", "description", "topic", "level"]
    assert header["data_lines"] == 41 == csv_rows.count_data_lines(path)
    ctx.close()


def test_a_refused_csv_gets_the_same_error_whichever_way_it_arrives(tmp_path):
    from profai.errors import ProfAIError
    from profai.services import datasets
    from profai.services.uploads import IncomingFile

    ctx = build_container(make_settings(tmp_path / "data", MAX_DATASET_MB=0.01), compute_processes=0)
    fields = {"namespace": "n", "id_column": "id", "text_columns": ("title",)}
    cases = {"header.csv": b"id,title\n\n", "big.csv": make_csv(tmp_path / "big.csv", 200).read_bytes(),
             "notes.csv": make_pdf(tmp_path / "notes.pdf").read_bytes()}
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        for name, data in cases.items():
            body = client.post("/api/v1/datasets", data=fields, files={"file": (name, data, "text/csv")}).json()
            with pytest.raises(ProfAIError) as err:
                (tmp_path / name).write_bytes(data)
                with (tmp_path / name).open("rb") as f:
                    datasets.start_dataset(ctx, CLI, IncomingFile(f"some/dir/{name}", f), **fields)
            assert {k: body[k] for k in ("code", "message")} == err.value.to_dict(), body
            assert body["message"].startswith(f"{name}: "), body
            assert body["message"].count(name) == 1
    assert not [p for p in ctx.blobs.root.rglob("*") if p.is_file()]
    ctx.close()

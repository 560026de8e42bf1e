"""USE_CHROMA_CLOUD: vectors go to the database that CHROMA_CLOUD_TENANT and CHROMA_CLOUD_DATABASE
name, through chromadb's client with CHROMA_CLOUD_API_KEY in the X-Chroma-Token header. Tested
against a real local Chroma server (CHROMA_CLOUD_URL) with a tenant and database of its own,
behind a gate that refuses requests without the key, as Chroma Cloud does."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from chroma_kit import KeyGate, collections, make_tenant
from pydantic import ValidationError

from factories import make_pdf
from procs import PROFAI, kill_group, poll_job, start_server
from profai.pipelines.pdf_to_course import course_collection
from profai.stores.vectors import ChromaVectorStore
from support import admin_http, make_settings

KEY = "ck-test-not-a-secret"


def test_cloud_settings_fail_fast_naming_what_is_missing(tmp_path):
    with pytest.raises(ValidationError, match="USE_CHROMA_CLOUD=true needs CHROMA_CLOUD_API_KEY, CHROMA_CLOUD_TENANT \\["):
        make_settings(tmp_path, USE_CHROMA_CLOUD=True, CHROMA_CLOUD_DATABASE="courses")
    # Blank values, as an .env file copied from .env.example has them, are missing too.
    with pytest.raises(ValidationError, match="needs CHROMA_CLOUD_DATABASE"):
        make_settings(tmp_path, USE_CHROMA_CLOUD=True, CHROMA_CLOUD_API_KEY=KEY, CHROMA_CLOUD_TENANT="t",
                      CHROMA_CLOUD_DATABASE="")
    cloud = make_settings(tmp_path, USE_CHROMA_CLOUD=True, CHROMA_CLOUD_API_KEY=KEY, CHROMA_CLOUD_TENANT="t",
                          CHROMA_CLOUD_DATABASE="d", CHROMA_URL="http://127.0.0.1:9")
    assert cloud.vector_backend == "cloud"  # it wins over CHROMA_URL
    assert make_settings(tmp_path).vector_backend == "embedded"

    # The server refuses to start, saying which settings, without a traceback.
    env = {**os.environ, "PROFAI_DATA_DIR": str(tmp_path / "data"), "USE_CHROMA_CLOUD": "true",
           "CHROMA_CLOUD_API_KEY": KEY, "COLUMNS": "200"}
    out = subprocess.run([*PROFAI, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "USE_CHROMA_CLOUD=true needs CHROMA_CLOUD_TENANT, CHROMA_CLOUD_DATABASE" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_a_course_is_indexed_into_its_cloud_tenant_and_database(tmp_path, chroma_server):
    tenant, database = make_tenant(chroma_server)
    gate = KeyGate(chroma_server, KEY)
    env = {"PROFAI_DATA_DIR": str(tmp_path / "data"), "USE_CHROMA_CLOUD": "true", "CHROMA_CLOUD_URL": gate.url,
           "CHROMA_CLOUD_API_KEY": KEY, "CHROMA_CLOUD_TENANT": tenant, "CHROMA_CLOUD_DATABASE": database}
    server, base = start_server(env, tmp_path / "server.log")
    try:
        with make_pdf(tmp_path / "biology.pdf").open("rb") as f:
            accepted = admin_http.post(f"{base}/api/upload-pdfs", data={"course_title": "Biology"},
                                       files={"files": ("biology.pdf", f, "application/pdf")})
        assert accepted.status_code == 202, accepted.text
        job = poll_job(base, accepted.json()["job_id"], timeout=180)
        assert job["status"] == "completed", job
        answer = admin_http.post(f"{base}/api/chat", json={"course_id": job["result"]["course_id"],
                                                           "question": "What does chlorophyll absorb?"}).json()
        assert answer["grounded"] and "light" in answer["answer"].lower(), answer
    finally:
        kill_group(server, signal.SIGTERM)
        gate.close()

    # The course's passages are in the tenant's database, and nowhere else on the server.
    assert collections(chroma_server, tenant, database) == {course_collection(job["job_id"]): job["result"]["passages"]}
    assert collections(chroma_server) == {}
    # Every request carried the key: the gate passed them all and refused none.
    assert gate.passed > 0 and gate.refused == 0


def test_a_wrong_key_is_refused(chroma_server):
    tenant, database = make_tenant(chroma_server)
    gate = KeyGate(chroma_server, KEY)
    try:
        with pytest.raises(Exception, match="(?i)unauthori[sz]ed|auth"):
            ChromaVectorStore.cloud("not-the-key", tenant, database, gate.url).count("anything")
        assert gate.refused >= 1
        assert ChromaVectorStore.cloud(KEY, tenant, database, gate.url).count("anything") == 0
    finally:
        gate.close()

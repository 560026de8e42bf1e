"""The terminal commands, run as real processes."""

from __future__ import annotations

import os
import subprocess
import sys

from factories import make_blank_pdf, make_pdf


def _profai(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "PROFAI_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "profai.cli", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_ingest_prints_the_outline_and_courses_lists_it(tmp_path):
    pdf = make_pdf(tmp_path / "biology.pdf")
    first, second = tmp_path / "one", tmp_path / "two"
    out = _profai("ingest", str(pdf), "--title", "Intro Biology", data_dir=first)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "Course 1: Intro Biology" in out.stdout
    for title in ("1. Photosynthesis", "2. Cellular Respiration", "3. Genetics"):
        assert title in out.stdout
    assert "biology.pdf, p. 1" in out.stdout

    listed = _profai("courses", data_dir=first)
    assert "Intro Biology" in listed.stdout and "1 course(s)" in listed.stdout
    # Another data directory is another, independent instance.
    assert "0 course(s)" in _profai("courses", data_dir=second).stdout


def test_ingest_reports_bad_input_with_its_code(tmp_path):
    text_file = tmp_path / "notes.pdf"
    text_file.write_text("not a pdf")
    out = _profai("ingest", str(text_file), "--title", "X", data_dir=tmp_path / "d")
    assert out.returncode == 2
    assert "not_a_pdf" in out.stdout

    blank = make_blank_pdf(tmp_path / "scan.pdf")
    out = _profai("ingest", str(blank), "--title", "X", data_dir=tmp_path / "d")
    assert out.returncode == 1
    assert "Failed" in out.stdout and "scan.pdf" in out.stdout


def test_import_json_is_idempotent(tmp_path):
    import json

    legacy = {"course_title": "Legacy Course", "modules": [
        {"week": 1, "title": "Basics", "sub_topics": [{"title": "What is R", "content": "R is a language."}]},
        {"week": 2, "title": "Data", "sub_topics": [{"title": "Vectors", "content": "Vectors hold values."},
                                                     {"title": "Lists", "content": "Lists hold anything."}]},
    ]}
    path = tmp_path / "course_output.json"
    path.write_text(json.dumps([legacy]))
    data = tmp_path / "d"
    first = _profai("import-json", str(path), data_dir=data)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "course 1: imported" in first.stdout
    again = _profai("import-json", str(path), data_dir=data)
    assert "course 1: already imported" in again.stdout
    listed = _profai("courses", data_dir=data)
    assert "Legacy Course" in listed.stdout and "2 modules, 3 lessons" in listed.stdout

    path.write_text("{not json")
    bad = _profai("import-json", str(path), data_dir=data)
    assert bad.returncode == 2 and "invalid_course_json" in bad.stdout


def test_ask_and_speak(tmp_path):
    data = tmp_path / "d"
    assert _profai("ingest", str(make_pdf(tmp_path / "biology.pdf")), "--title", "Bio", data_dir=data).returncode == 0
    out = _profai("ask", "1", "What does chlorophyll absorb?", data_dir=data)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "light" in out.stdout.lower() and "[1] biology.pdf, p." in out.stdout and "session " in out.stdout
    assert "course_not_found" in _profai("ask", "99", "What is ATP?", data_dir=data).stdout

    wav = tmp_path / "hello.wav"
    out = _profai("speak", "Photosynthesis makes glucose.", "--out", str(wav), data_dir=data)
    assert out.returncode == 0, out.stderr + out.stdout
    assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 10_000
    assert "empty_text" in _profai("speak", " ", data_dir=data).stdout


def test_dataset_add_reports_rows_and_search_finds_them(tmp_path):
    from factories import make_csv

    data = tmp_path / "d"
    csv_file = make_csv(tmp_path / "rows.csv", 40, extra=[["", "no id", "text", "music", "easy"]])
    out = _profai("dataset", "add", str(csv_file), "-n", "cat", "--id-column", "id", "--text-column", "title",
                  "--text-column", "description", "--metadata-column", "topic", data_dir=data)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "partially_completed" in out.stdout and "40 of 41 rows" in out.stdout
    assert "line 42: empty_id" in out.stdout
    found = _profai("dataset", "search", "cat", "growing seedlings in compost", "-k", "3", data_dir=data)
    assert found.returncode == 0 and found.stdout.count("row-") == 3
    assert "unknown_namespace" in _profai("dataset", "search", "dog", "x", data_dir=data).stdout


def test_admin_and_keys_commands_make_accounts_and_keys_a_running_server_honours(tmp_path):
    """`profai admin create` and `profai keys ...` on the data directory of a running server: the
    key works over HTTP, and once revoked every process stops taking it within seconds."""
    import httpx

    from procs import kill_group, start_server
    from support import wait_until

    data = tmp_path / "data"
    made = _profai("admin", "create", "--email", "Head@School.example", "--password", "correct horse battery",
                   data_dir=data)
    assert made.returncode == 0, made.stderr + made.stdout
    assert "Created admin head@school.example" in made.stdout
    again = _profai("admin", "create", "--email", "head@school.example", "--password", "correct horse battery",
                    data_dir=data)
    assert again.returncode == 2 and "email_taken" in again.stdout
    teacher = _profai("admin", "create", "--email", "t@school.example", "--password", "short",
                      "--role", "teacher", data_dir=data)
    assert teacher.returncode == 2 and "weak_password" in teacher.stdout

    key_out = _profai("keys", "create", "--email", "head@school.example", "--name", "backup", data_dir=data)
    assert key_out.returncode == 0, key_out.stderr
    secret = key_out.stdout.strip().splitlines()[-1]
    assert secret.startswith("pk_")
    listed = _profai("keys", "list", data_dir=data).stdout
    assert "backup" in listed and secret[:10] in listed and secret not in listed  # never shown again
    key_id = listed.split()[0]

    server, url = start_server({"PROFAI_DATA_DIR": str(data), "IDENTITY_CACHE_SECONDS": "1"}, tmp_path / "server.log")
    try:
        me = httpx.get(f"{url}/api/auth/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
        assert me.status_code == 200 and me.json()["user"]["email"] == "head@school.example"
        assert _profai("keys", "revoke", key_id, data_dir=data).returncode == 0
        wait_until(lambda: httpx.get(f"{url}/api/auth/me", headers={"X-API-Key": secret},
                                     timeout=10).status_code == 401,
                   timeout=15, message="the server to stop taking the revoked key")
    finally:
        kill_group(server)

"""Uploading PDFs over HTTP and reading the course back, end to end in embedded mode."""

from __future__ import annotations

from factories import BIOLOGY, make_pdf, make_scanned_pdf
from profai.ingest.pdf import read_pdf
from support import upload_course, wait_job
from textbook import make_textbook


def test_upload_answers_at_once_then_builds_a_course(client, tmp_path):
    a = make_pdf(tmp_path / "a.pdf")
    b = make_pdf(tmp_path / "b.pdf", [("Ecology", [BIOLOGY[0][1][0] + " Ecosystems cycle nutrients."])])
    with a.open("rb") as fa, b.open("rb") as fb:
        resp = client.post("/api/upload-pdfs", data={"course_title": "Intro Biology"},
                           files=[("files", ("a.pdf", fa, "application/pdf")), ("files", ("b.pdf", fb, "application/pdf"))])
    assert resp.status_code == 202
    body = resp.json()
    assert set(body) == {"job_id", "status", "status_url", "message"}
    assert body["status"] == "pending"
    assert body["status_url"] == f"/api/jobs/{body['job_id']}"

    job = wait_job(client, body["job_id"])
    assert job["status"] == "completed", job
    assert job["progress"] == 100
    assert job["started_at"] and job["completed_at"] and job["created_at"]
    result = job["result"]
    assert result["course_title"] == "Intro Biology"
    assert result["modules"] == 4

    course = client.get(f"/api/courses/{result['course_id']}").json()
    assert course["title"] == "Intro Biology"
    titles = [m["title"] for m in course["modules"]]
    assert titles == ["Photosynthesis", "Cellular Respiration", "Genetics", "Ecology"]
    lesson = course["modules"][0]["lessons"][0]
    assert lesson["source_file"] == "a.pdf" and lesson["page_start"] == 1 and lesson["page_marks"] == [[0, 1]]
    assert "chlorophyll" in lesson["content"]
    assert lesson["summary"] and lesson["key_terms"]
    assert course["modules"][3]["lessons"][0]["source_file"] == "b.pdf"

    listed = client.get("/api/courses").json()
    assert listed["total"] == 1 and listed["courses"][0]["course_id"] == result["course_id"]


def test_a_lesson_says_where_each_of_its_pages_begins(client, tmp_path):
    # Every paragraph given eight times over: the chapter runs onto a second and a third page.
    pdf = make_pdf(tmp_path / "long.pdf", [("Photosynthesis", BIOLOGY[0][1] * 8)])
    course = client.get(f"/api/courses/{upload_course(client, pdf, 'Long')}").json()
    lesson = course["modules"][0]["lessons"][0]
    pages = [p.text for p in read_pdf(pdf, "long.pdf").pages]
    assert len(pages) >= 3 and (lesson["page_start"], lesson["page_end"]) == (1, len(pages))
    assert [page for _, page in lesson["page_marks"]] == list(range(1, len(pages) + 1))
    assert lesson["content"][:40] in pages[0]  # after the chapter heading
    for at, page in lesson["page_marks"][1:]:
        assert pages[page - 1].startswith(lesson["content"][at:at + 40])


def test_vectors_are_written_once_per_passage(client, ctx, tmp_path):
    pdf = make_pdf(tmp_path / "a.pdf")
    with pdf.open("rb") as f:
        job_id = client.post("/api/upload-pdfs", data={"course_title": "Bio"},
                             files={"files": ("a.pdf", f, "application/pdf")}).json()["job_id"]
    job = wait_job(client, job_id)
    from profai.pipelines.pdf_to_course import course_collection

    assert ctx.vectors.count(course_collection(job_id)) == job["result"]["passages"] > 0


def test_sync_upload_waits_for_the_course(client, tmp_path):
    pdf = make_pdf(tmp_path / "a.pdf")
    with pdf.open("rb") as f:
        resp = client.post("/api/upload-pdfs-sync", data={"course_title": "Bio"},
                           files={"files": ("a.pdf", f, "application/pdf")})
    assert resp.status_code == 200
    assert resp.json()["status"] == "completed"
    assert resp.json()["result"]["modules"] == 3
    spec = client.get("/openapi.json").json()
    assert spec["paths"]["/api/upload-pdfs-sync"]["post"]["deprecated"] is True


def test_health_endpoints(client):
    assert client.get("/health").json()["status"] == "healthy"
    ready = client.get("/api/v1/health")
    assert ready.status_code == 200
    assert ready.json()["status"] == "healthy"
    assert ready.json()["checks"] == {"database": "ok", "vectors": "ok", "queue": "ok"}


def test_worker_stats(client):
    stats = client.get("/api/worker-stats").json()
    assert stats["runner"] == "local"
    assert stats["queue_depth"] == 0
    assert "jobs_by_state" in stats


def test_a_scanned_handout_becomes_a_course_and_says_which_pages_were_read_by_ocr(client, tmp_path):
    pdf = make_scanned_pdf(tmp_path / "handout.pdf")
    with pdf.open("rb") as f:
        resp = client.post("/api/upload-pdfs", data={"course_title": "Scanned biology"},
                           files={"files": ("handout.pdf", f, "application/pdf")})
    assert resp.status_code == 202, resp.text
    job = wait_job(client, resp.json()["job_id"])
    assert job["status"] == "completed", job
    pages = job["result"]["pages"]
    assert job["result"]["ocr_pages"] == {"handout.pdf": list(range(1, pages + 1))}
    course = client.get(f"/api/courses/{job['result']['course_id']}").json()
    assert course["source_files"][0]["ocr_pages"] == list(range(1, pages + 1))
    text = " ".join(lesson["content"] for m in course["modules"] for lesson in m["lessons"])
    assert "chlorophyll" in text and "glucose" in text
    answer = client.post("/api/chat", json={"course_id": course["id"], "question": "What does chlorophyll absorb?"})
    assert answer.status_code == 200 and answer.json()["sources"]


def test_a_course_serves_lessons_as_blocks_with_printed_page_numbers(client, tmp_path):
    book = make_textbook(tmp_path / "book.pdf", first_printed=30)
    bio = make_pdf(tmp_path / "bio.pdf")
    with book.path.open("rb") as fa, bio.open("rb") as fb:
        job_id = client.post("/api/upload-pdfs", data={"course_title": "Two books"},
                             files=[("files", ("book.pdf", fa, "application/pdf")),
                                    ("files", ("bio.pdf", fb, "application/pdf"))]).json()["job_id"]
    course = client.get(f"/api/courses/{wait_job(client, job_id)['result']['course_id']}").json()
    sources = {f["filename"]: f for f in course["source_files"]}
    assert sources["book.pdf"]["page_labels"] == [book.printed[n] for n in range(1, book.pages + 1)]
    assert sources["bio.pdf"]["page_labels"] == []  # a PDF that prints no page numbers
    assert [m["source_file"] for m in course["modules"]][:3] == ["book.pdf"] * 3
    assert course["modules"][-1]["source_file"] == "bio.pdf"
    lessons = [lesson for m in course["modules"] for lesson in m["lessons"]]
    # Section 1.1 is too short for a lesson of its own: it opens one with 1.2 as a heading inside.
    functions = next(lesson for lesson in lessons if lesson["title"] == "1.1 Values and names")
    assert {"kind": "heading", "text": "1.2 Functions", "level": 3} in functions["blocks"]
    assert functions["page_start_label"] == book.printed[functions["page_start"]]
    assert functions["page_end_label"] == book.printed[functions["page_end"]] == "31"
    code = [b["text"] for b in functions["blocks"] if b["kind"] == "code"]
    assert code == book.code[:2] and "\n        total += value" in code[1]
    assert "\n\n".join(b["text"] for b in functions["blocks"]) == functions["content"]
    assert {b["kind"] for lesson in lessons for b in lesson["blocks"]} >= {"paragraph", "code", "list", "caption"}
    # A chat answer cites the printed page beside the PDF's page index.
    answer = client.post("/api/chat", json={"course_id": course["id"], "question": "What does a data frame hold?"})
    assert answer.status_code == 200, answer.text
    cited = [s for s in answer.json()["sources"] if s["file"] == "book.pdf"]
    assert cited and all(s["page_label"] == book.printed[s["page"]] for s in cited)

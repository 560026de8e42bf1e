"""Chat over WebSocket with the extractive backend: 20 students at once, each asking questions
from bench/retrieval_questions.json about R-intro.pdf. Time to first token and to the full
answer, p50/p95 (goal: first token p95 under 300 ms on 2 cores). Retrieval recall@5, hybrid vs
vector-only, comes from bench/retrieval.py and is copied in when present.

Usage: python bench/chat.py [--students 20] [--questions-each 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import R_MANUALS, RESULTS, PeakRss, percentile, save  # noqa: E402
from identities import join, user_key  # noqa: E402

from procs import kill_group, poll_job, start_server  # noqa: E402

QUESTIONS = Path(__file__).with_name("retrieval_questions.json")


async def student(url: str, course_id: int, key: str, questions: list[str], firsts: list, fulls: list,
                  think: float) -> None:
    async with websockets.connect(url.replace("http", "ws") + "/ws/chat", max_size=2**24,
                                  additional_headers={"X-API-Key": key}) as ws:
        session = None
        for question in questions:
            started = time.perf_counter()
            await ws.send(json.dumps({"course_id": course_id, "question": question, "session_id": session}))
            first = None
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "error":
                    raise RuntimeError(frame)
                if frame["type"] == "session":
                    session = frame["session_id"]
                if frame["type"] == "token" and first is None:
                    first = time.perf_counter() - started
                if frame["type"] == "end":
                    break
            firsts.append(first)
            fulls.append(time.perf_counter() - started)
            await asyncio.sleep(think)  # reading the answer before asking again


async def load(url: str, course_id: int, keys: list[str], each: int, questions: list[str], think: float = 0.0
               ) -> tuple[list, list, float]:
    """Each student (one key each) asks `each` questions over their own WebSocket."""
    firsts: list[float] = []
    fulls: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(student(url, course_id, key, [questions[(s * each + i) % len(questions)]
                                                         for i in range(each)], firsts, fulls, think)
                           for s, key in enumerate(keys)))
    return firsts, fulls, time.perf_counter() - started


def _ms(values: list[float]) -> dict:
    return {"p50": round(percentile(values, 50) * 1000), "p95": round(percentile(values, 95) * 1000)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--questions-each", type=int, default=5)
    args = parser.parse_args()
    questions = [q["question"] for q in json.loads(QUESTIONS.read_text())["questions"]]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # Many students share one test machine's address: the per-address limit is not what is measured.
        proc, url = start_server({"PROFAI_DATA_DIR": str(tmp / "data"), "WS_MESSAGES_PER_SECOND": "0"},
                                 tmp / "server.log")
        try:
            pdf = R_MANUALS / "R-intro.pdf"
            teacher = user_key(url, "teacher")
            with pdf.open("rb") as f:
                job_id = httpx.post(f"{url}/api/upload-pdfs", data={"course_title": "An Introduction to R"},
                                    files={"files": (pdf.name, f, "application/pdf")}, timeout=60,
                                    headers={"X-API-Key": teacher}).json()["job_id"]
            course_id = poll_job(url, job_id, timeout=600)["result"]["course_id"]
            keys = [user_key(url, "student") for _ in range(args.students)]
            for key in keys:
                join(url, key, course_id, teacher)
            asyncio.run(load(url, course_id, keys[:2], 2, questions))  # warm up: model and keyword index loaded
            runs = {}
            with PeakRss(proc.pid) as rss:
                # Back to back is the worst case; real students read an answer before the next question.
                for name, think in (("back_to_back", 0.0), ("reading_2s_between_questions", 2.0)):
                    firsts, fulls, wall = asyncio.run(
                        load(url, course_id, keys, args.questions_each, questions, think))
                    runs[name] = {"questions": len(fulls), "first_token_ms": _ms(firsts), "full_answer_ms": _ms(fulls),
                                  "answers_per_s": round(len(fulls) / wall, 1)}
        finally:
            kill_group(proc, signal.SIGTERM)
    figures = {"students": args.students, "generator": "extractive", **runs, "server_peak_rss_mb": round(rss.peak_mb)}
    retrieval = RESULTS / "retrieval.json"
    if retrieval.exists():
        modes = json.loads(retrieval.read_text())["modes"]
        figures["retrieval_recall_at_5"] = {mode: v["recall_at_5"] for mode, v in modes.items()}
    save("chat", figures)


if __name__ == "__main__":
    main()

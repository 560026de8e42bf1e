"""Screenshots of the web app's main screens for the README (docs/screenshots/*.png): a real server
with its own data folder, a course built from the test textbook, Debian's Chromium.

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "web")]
from browser_kit import CHROMIUM, app_server, build_course, make_account, new_page, sign_in  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from textbook import make_textbook  # noqa: E402

OUT = Path(__file__).parent / "screenshots"
ADMIN = "dean@school.test"


def shoot(page, name: str) -> None:
    page.wait_for_timeout(300)  # let transitions settle
    page.screenshot(path=str(OUT / f"{name}.png"))
    print("wrote", OUT / f"{name}.png")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, app_server(Path(tmp)) as server:
        make_account(server, ADMIN, "admin")
        book = make_textbook(Path(tmp) / "programming-with-data.pdf", first_printed=30)
        course = build_course(server, ADMIN, book.path, "Programming with Data")
        lessons = [lesson for module in course["modules"] for lesson in module["lessons"]]
        base = f"{server}/#/courses/{course['id']}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = new_page(browser)
            sign_in(page, server, ADMIN)
            shoot(page, "courses")
            lesson = next(le for le in lessons if le["title"].startswith("2.2"))
            page.goto(f"{base}/lessons/{lesson['id']}")
            expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_visible()
            shoot(page, "lesson")
            page.locator("#lesson-source button").first.click()
            expect(page.locator(".source-view img")).to_be_visible()
            shoot(page, "source")
            page.keyboard.press("Escape")
            page.goto(f"{base}/chat")
            page.locator("#chat-input").fill("What does a data frame hold?")
            page.locator("#chat-send").click()
            expect(page.locator("#chat-send")).to_be_enabled(timeout=30000)
            page.wait_for_timeout(1500)
            shoot(page, "chat")
            page.goto(f"{base}/quiz")
            page.locator("#quiz-generate").click()
            expect(page.locator("#quiz-form")).to_be_visible(timeout=30000)
            shoot(page, "quiz")
            phone = new_page(browser, 390, 844)
            sign_in(phone, server, ADMIN)
            phone.goto(f"{base}/lessons/{lesson['id']}")
            expect(phone.get_by_role("heading", name=lesson["title"], level=2)).to_be_visible()
            shoot(phone, "phone-lesson")
            browser.close()


if __name__ == "__main__":
    main()

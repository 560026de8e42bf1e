"""Fixtures of the web UI's browser tests: a real `profai serve` with its own data directory,
Debian's Chromium driven by Playwright, and accounts made through the API with the test admin key."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_kit import CHROMIUM, app_server, make_account, new_page


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.parent == here:
            item.add_marker(pytest.mark.slow)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(
                    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A server of its own (its log in tmp_path/server.log); its URL, http://127.0.0.1:PORT."""
    with app_server(tmp_path) as url:
        yield url


@pytest.fixture
def make_user(server: str) -> Callable[..., dict]:
    """make_user(email, role) -> the new account, made with the test admin key (password PASSWORD)."""

    return functools.partial(make_account, server)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as p:
        # Debian's browser, never a downloaded one: `playwright install` needs a network we do not have.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """One page, 1280 x 900, in a context of its own."""
    return new_page(browser)

"""The web app's files as the server sends them: an ETag on each, a 304 when the browser's copy is
current, a new ETag once the file changes; nothing outside the web folder; and index.html preloads
every module the app imports, so a page load fetches them at once instead of one level at a time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from profai.api.routes import web

JS = web.WEB_DIR / "js"


def test_an_unchanged_file_is_a_304_and_a_changed_one_is_sent_again(client, tmp_path: Path, monkeypatch):
    folder = tmp_path / "web"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>ProfAI</title>")
    script = folder / "app.js"
    script.write_text("console.log('one');")
    monkeypatch.setattr(web, "WEB_DIR", folder)

    first = client.get("/static/app.js")
    assert first.status_code == 200 and first.text == "console.log('one');"
    assert first.headers["content-type"].startswith("text/javascript")
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = client.get("/static/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/static/app.js", headers={"If-None-Match": '"other"'}).status_code == 200

    script.write_text("console.log('two, longer');")  # a deploy, or a developer's edit
    changed = client.get("/static/app.js", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.text == "console.log('two, longer');"
    assert changed.headers["etag"] != etag

    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/", headers={"If-None-Match": page.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/static/js", "/static/missing.js", "/static/../routes/web.py",
                                  "/static/%2e%2e/%2e%2e/settings.py", "/static/..%2f..%2fsettings.py"])
def test_folders_missing_files_and_paths_out_of_the_web_folder_are_404s(client, path):
    resp = client.get(path)
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    assert str(web.WEB_DIR) not in resp.text


def _imports(script: Path) -> set[Path]:
    return {(script.parent / name).resolve() for name in re.findall(r'^import .* from "(\.[^"]+)";', script.read_text(), re.M)}


def test_index_preloads_every_module_the_app_imports():
    reached, todo = set(), [web.WEB_DIR / "app.js"]
    while todo:
        for module in _imports(todo.pop()) - reached:
            assert module.is_file(), f"{module.name} is imported but missing"
            reached.add(module)
            todo.append(module)
    html = (web.WEB_DIR / "index.html").read_text()
    preloaded = {(web.WEB_DIR / href.removeprefix("/static/")).resolve()
                 for href in re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)}
    assert reached == preloaded == set(JS.glob("*.js"))

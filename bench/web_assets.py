"""What the web app ships to a browser: every JavaScript, CSS and HTML file of src/profai/web, raw
and gzip-compressed as nginx sends it (deploy/nginx gzips text at level 5). The study-app issue's
goal: under 150 KB compressed for the JavaScript and CSS (no PDF viewer: pages are images)."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

WEB = Path(__file__).resolve().parents[1] / "src" / "profai" / "web"
LEVEL = 5


def main() -> None:
    sizes = {str(p.relative_to(WEB)): (len(data := p.read_bytes()), len(gzip.compress(data, LEVEL)))
             for p in sorted(WEB.rglob("*")) if p.suffix in (".js", ".css", ".html")}
    code = [size for name, size in sizes.items() if not name.endswith(".html")]
    figures = {
        "files": {name: {"bytes": raw, "gzip_bytes": gz} for name, (raw, gz) in sizes.items()},
        "js_css_bytes": sum(raw for raw, _ in code),
        "js_css_gzip_bytes": sum(gz for _, gz in code),
        "html_gzip_bytes": sum(gz for name, (_, gz) in sizes.items() if name.endswith(".html")),
        "gzip_level": LEVEL,
        "goal": "JavaScript and CSS < 150 KB compressed",
        "goal_met": sum(gz for _, gz in code) < 150 * 1024,
    }
    save("web_assets", figures)


if __name__ == "__main__":
    main()

"""Reading a real server's /metrics and JSON log lines in tests."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-tests-only"
UPLOAD_REQUEST_ID = "upload-3f9c2a.teacher:1"  # what the workload's PDF upload sends as X-Request-ID
CSV_ROWS = 30  # the workload's dataset, in parts of 10
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base: str, token: str = TOKEN) -> Samples:
    """Every sample of the server's /metrics: (name, labels) -> value."""
    resp = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(resp.text)


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there are none)."""
    want = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and want <= have)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def json_lines(log: Path) -> list[dict]:
    """Every line of a process's output, each of which must be one JSON object (lines end at
    "\\n" alone, as log shippers read them)."""
    lines = []
    for n, line in enumerate(log.read_text().split("\n"), start=1):
        if line.strip():
            try:
                lines.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"{log.name} line {n} is not JSON: {line[:300]!r}") from None
    return lines

"""deploy/grafana/profai-dashboard.json is a dashboard Grafana can import, and every metric (and
label) its queries use is in a real scrape of a server that ran a real workload."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "profai-dashboard.json"
_SELECTOR = re.compile(r"\b(profai_[a-zA-Z0-9_]+)\s*(\{[^}]*\})?")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
_FROM_DATABASE = re.compile(r"\bprofai_(jobs|job_queue_depth)\b")  # gauges read from the job table


def _panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard["panels"]:
        out += [panel, *panel.get("panels", [])]
    return out


def test_the_dashboard_is_a_grafana_dashboard():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        cells_here = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not cells & cells_here, f"{panel['title']} overlaps another panel"
        cells |= cells_here
        if panel["type"] == "row":
            continue
        assert panel["type"] in ("timeseries", "stat") and panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"] and len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        assert all(t["expr"].count("(") == t["expr"].count(")") for t in panel["targets"]), panel["title"]
        for target in panel["targets"]:  # every host answers the same job table: one count, not a sum
            if _FROM_DATABASE.search(target["expr"]):
                assert target["expr"].startswith("max"), f"{panel['title']}: {target['expr']}"


def test_every_metric_the_dashboard_queries_is_in_a_real_scrape(workload):
    labels_of: dict[str, set[str]] = {}
    for name, labels in workload.after:
        labels_of.setdefault(name, set()).update(k for k, _ in labels)
    dashboard = json.loads(DASHBOARD.read_text())
    queried = set()
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            expr = target["expr"]
            selectors = _SELECTOR.findall(expr)
            assert selectors, f"{panel['title']}: a query of no ProfAI metric: {expr}"
            used_labels = {label.strip() for group in _BY.findall(expr) for label in group.split(",")} - {"le"}
            for name, matchers in selectors:
                queried.add(name)
                assert name in labels_of, f"{panel['title']}: {name} is not in /metrics"
                used = used_labels | set(re.findall(r"(\w+)\s*=~?", matchers or ""))
                assert used <= labels_of[name] | {"le"}, f"{panel['title']}: {name} has no label {used - labels_of[name]}"
    # And the dashboard shows every family ProfAI exports.
    exported = {re.sub(r"_(bucket|sum|count|total)$", "", n) for n in labels_of if n.startswith("profai_")}
    shown = {re.sub(r"_(bucket|sum|count|total)$", "", n) for n in queried}
    assert exported - shown == set(), "metrics no panel shows"

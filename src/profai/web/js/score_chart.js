// A small line chart of quiz scores over time, drawn as SVG by the app itself (no chart library):
// one point per attempt in the order taken, its height the share of questions right.

const NS = "http://www.w3.org/2000/svg";
const W = 320;
const H = 120;
const PAD = { left: 34, right: 10, top: 10, bottom: 18 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/** The chart of `attempts` ({score, total, created_at}), oldest first; `describe(a)` labels a point. */
export function scoreChart(attempts, describe) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (attempts.length === 1 ? plotW / 2 : (i * plotW) / (attempts.length - 1));
  const y = (pct) => PAD.top + plotH - (pct * plotH) / 100;
  const pct = (a) => (a.total ? Math.round((100 * a.score) / a.total) : 0);
  const grid = [0, 50, 100].map((p) => svg("g", { class: "chart-grid" },
    svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(p), y2: y(p) }),
    svg("text", { x: PAD.left - 6, y: y(p) + 4, "text-anchor": "end" }, `${p}%`)));
  const points = attempts.map((a, i) => `${x(i)},${y(pct(a))}`).join(" ");
  const dots = attempts.map((a, i) => svg("circle", { cx: x(i), cy: y(pct(a)), r: 4, class: "chart-dot",
                                                       "data-score": pct(a) },
    svg("title", {}, describe(a))));
  const axis = svg("text", { x: PAD.left, y: H - 4, class: "chart-axis" }, "first attempt");
  const last = svg("text", { x: W - PAD.right, y: H - 4, class: "chart-axis", "text-anchor": "end" }, "latest");
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "score-chart", role: "img",
                      "aria-label": `Scores over time: ${attempts.map((a) => `${pct(a)}%`).join(", ")}` },
    ...grid, attempts.length > 1 ? svg("polyline", { points, class: "chart-line" }) : "", ...dots,
    attempts.length > 1 ? axis : "", attempts.length > 1 ? last : "");
}

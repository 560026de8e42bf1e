// "Running jobs" on the courses screen: every unfinished job of this teacher (an admin: everyone's),
// whichever tab or script started it, with its progress and a Cancel button; kept current by the
// live feed, with no polling. A job that ends leaves the list and says how it ended.

import { api } from "./api.js";
import { confirmDialog } from "./confirm.js";
import { $, h, say, show } from "./dom.js";
import { onLive } from "./live.js";

const rows = new Map();  // job id -> its row's parts

const ENDINGS = {
  completed: (t) => [`${t} is ready.`, "success"],
  partially_completed: (t) => [`${t} is ready, but some of it could not be processed.`, "note"],
  failed: (t, job) => [`${t} failed: ${job.error || job.message}`, "error"],
  cancelled: (t) => [`${t} was cancelled.`, "note"],
};

export function initJobsPanel() {
  // (Re)connected: the feed sends every unfinished job again, so start from an empty list.
  onLive("ready", () => { for (const id of [...rows.keys()]) drop(id); });
  onLive("job", update);
}

const name = (job) => (job.title ? `“${job.title}”` : job.kind === "dataset" ? "The dataset" : "The course");

function update(job) {
  if (job.finished) {
    if (rows.has(job.job_id)) {
      drop(job.job_id);
      const [message, kind] = ENDINGS[job.status](name(job), job);
      say($("courses-live"), message, kind);
    }
    return;
  }
  const row = rows.get(job.job_id) || add(job);
  const pct = Math.max(0, Math.min(100, Math.round(job.progress || 0)));
  row.bar.value = pct;
  row.pct.textContent = `${pct}%`;
  row.message.textContent = job.message || job.status;
}

function add(job) {
  const label = `${job.kind === "dataset" ? "Dataset" : "Course"} ${name(job)}`;
  const barId = `job-bar-${job.job_id}`;
  const row = {
    bar: h("progress", { id: barId, max: 100, value: 0 }),
    pct: h("span", { class: "muted", "aria-hidden": "true" }, "0%"),
    message: h("p", { class: "muted job-message" }),
  };
  const cancel = h("button", { type: "button", class: "subtle", "aria-label": `Cancel ${label}`,
    onclick: () => cancelJob(job, label, cancel) }, "Cancel");
  row.li = h("li", { class: "job-row", "data-job": job.job_id },
    h("div", { class: "job-head" }, h("label", { for: barId }, label), row.pct), row.bar,
    h("div", { class: "job-foot" }, row.message, cancel));
  rows.set(job.job_id, row);
  $("job-list").append(row.li);
  show($("jobs-card"));
  return row;
}

function drop(jobId) {
  rows.get(jobId)?.li.remove();
  rows.delete(jobId);
  show($("jobs-card"), rows.size > 0);
}

async function cancelJob(job, label, button) {
  const yes = await confirmDialog({
    title: `Cancel ${label}?`, confirm: "Cancel the job", cancel: "Keep it running",
    body: "It stops, and what it has made so far is removed. The PDFs would have to be uploaded again.",
  });
  if (!yes) return;
  button.disabled = true;
  try {
    // Answered 200 only once the job is cancelled (409 if it had finished first).
    await api(`/api/jobs/${encodeURIComponent(job.job_id)}/cancel`, { method: "POST" });
    drop(job.job_id);
    say($("courses-live"), `${name(job)} was cancelled.`, "note");
  } catch (err) {
    button.disabled = false;
    say($("courses-live"), `Could not cancel ${name(job)}: ${err.message}`);
  }
}

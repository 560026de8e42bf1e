// The courses list, the "New course" form, and the progress of the job that builds the course.

import { api, sleep } from "./api.js";
import { $, h, show, showError } from "./dom.js";
import { plural } from "./format.js";
import { canTeach, routes } from "./state.js";

const POLL_MS = 500;
const JOB_KEY = "profai.uploadJob";
const FINAL_OK = new Set(["completed", "partially_completed"]);
const FINAL_BAD = new Set(["failed", "cancelled"]);

export async function loadCourses() {
  const status = $("courses-status");
  const list = $("course-list");
  if (!list.children.length) status.textContent = "Loading courses…";
  try {
    const data = await api("/api/courses");
    list.replaceChildren(...data.courses.map(courseItem));
    status.textContent = data.total ? "" : canTeach() ? "No courses yet. Create one from your PDFs with the form."
      : "You have not joined a course yet. Enter the join code your teacher gave you.";
  } catch (err) {
    status.textContent = `Could not load the courses: ${err.message}`;
  }
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

function courseItem(c) {
  const created = c.created_at ? dateFormat.format(new Date(c.created_at)) : "";
  return h("li", { class: "course-item" },
    h("a", { href: routes.course(c.id) }, c.title),
    h("p", { class: "muted" }, [plural(c.modules, "module"), plural(c.lessons, "lesson"), created,
      c.search_ready ? "" : "indexing for chat"].filter(Boolean).join(" · ")));
}

// ------------------------------------------------------------------------------ upload + job

function setUploading(busy) {
  for (const el of $("upload-form").elements) el.disabled = busy;
  $("upload-submit").textContent = busy ? "Creating…" : "Create course";
}

export async function submitUpload(event) {
  event.preventDefault();
  const title = $("course-title").value.trim();
  const files = [...$("course-files").files];
  const problem = !title ? "Give the course a title." : !files.length ? "Choose at least one PDF file." : "";
  showError($("upload-form-error"), problem);
  if (problem) {
    (title ? $("course-files") : $("course-title")).focus();
    return;
  }
  const form = new FormData();
  form.append("course_title", title);
  for (const file of files) form.append("files", file, file.name);

  setUploading(true);
  startJobDisplay(title, `Uploading ${plural(files.length, "file")}…`);
  try {
    const accepted = await api("/api/upload-pdfs", { method: "POST", body: form });
    sessionStorage.setItem(JOB_KEY, JSON.stringify({ url: accepted.status_url, title }));
    $("upload-message").textContent = accepted.message || "Processing started";
    await pollJob(accepted.status_url, title);
  } catch (err) {
    finishJobDisplay();
    showError($("upload-error"), err.message);
  } finally {
    setUploading(false);
  }
}

function startJobDisplay(title, message) {
  show($("upload-job"));
  $("upload-job-title").textContent = `“${title}”`;
  setProgress(0);
  $("upload-message").textContent = message;
  showError($("upload-error"), "");
  show($("upload-done"), false);
}

function setProgress(value) {
  const pct = Math.max(0, Math.min(100, Math.round(value || 0)));
  $("upload-progress").value = pct;
  $("upload-percent").textContent = `${pct}%`;
}

function finishJobDisplay() {
  sessionStorage.removeItem(JOB_KEY);
}

/** Poll a job's status_url every POLL_MS until it ends; a dropped connection is retried, not fatal. */
async function pollJob(url, title) {
  let misses = 0;
  let readable = false;
  for (;;) {
    let job;
    try {
      job = await api(url);
      misses = 0;
    } catch (err) {
      if (err.status === 0 && ++misses < 20) {
        $("upload-message").textContent = "Lost contact with the server; retrying…";
        await sleep(POLL_MS);
        continue;
      }
      throw err;
    }
    setProgress(job.progress);
    $("upload-message").textContent = job.message || job.status;
    if (job.result?.course_id && !readable) {
      readable = true;  // course first: it can be read while its passages are indexed for chat
      courseReady(job, title, "Ready to read (chat follows once indexed): ");
    }
    if (FINAL_OK.has(job.status)) {
      finishJobDisplay();
      courseReady(job, title);
      return;
    }
    if (FINAL_BAD.has(job.status)) {
      finishJobDisplay();
      const code = job.error_code ? ` (${job.error_code})` : "";
      showError($("upload-error"), `The course could not be built: ${job.error || job.message}${code}`);
      return;
    }
    await sleep(POLL_MS);
  }
}

function courseReady(job, title, label = "Course ready: ") {
  const result = job.result || {};
  const done = $("upload-done");
  const name = result.course_title || title;
  done.replaceChildren(label,
    result.course_id ? h("a", { href: routes.course(result.course_id) }, `Open “${name}”`) : name);
  show(done);
  if (FINAL_OK.has(job.status)) {
    setProgress(100);
    $("upload-form").reset();
  }
  loadCourses();
}

/** After a reload, pick up the job this tab started, so its progress is not lost. */
export function resumeJob() {
  if (!canTeach()) return;
  const saved = JSON.parse(sessionStorage.getItem(JOB_KEY) || "null");
  if (!saved?.url) return;
  setUploading(true);
  startJobDisplay(saved.title, "Checking progress…");
  pollJob(saved.url, saved.title)
    .catch((err) => { finishJobDisplay(); showError($("upload-error"), err.message); })
    .finally(() => setUploading(false));
}

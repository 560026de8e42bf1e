// The courses list (with rename and delete for their teacher), the "New course" form (files chosen
// or dropped, checked before sending), and the progress of the job that builds the course. The list
// follows the live feed: a course built, renamed or deleted in another tab shows here too.

import { api } from "./api.js";
import { confirmDialog } from "./confirm.js";
import { $, h, say, show, showError } from "./dom.js";
import { plural } from "./format.js";
import { initJobsPanel } from "./jobs_panel.js";
import { onLive, watchJob } from "./live.js";
import { filesProblem, initDrop } from "./pdf_drop.js";
import { canTeach, routes } from "./state.js";

const JOB_KEY = "profai.uploadJob";
const FINAL_OK = new Set(["completed", "partially_completed"]);
const MAX_TITLE = 300;

/** Once, at start: drops on the form, the jobs panel, and the list's live updates. */
export function initCourses() {
  initDrop();
  initJobsPanel();
  let timer = null;
  const reload = () => {  // a burst of events (a job's course, then its index) is one reload
    clearTimeout(timer);
    timer = setTimeout(() => { if (!$("view-courses").hidden) loadCourses(); }, 200);
  };
  onLive("course", reload);
  onLive("ready", reload);
}

export async function loadCourses() {
  const status = $("courses-status");
  const list = $("course-list");
  if (!list.children.length) status.textContent = "Loading courses…";
  try {
    const data = await api("/api/courses");
    // A course being renamed keeps its row (and the text typed so far) through a reload.
    const editing = new Map([...list.querySelectorAll("li[data-editing]")].map((li) => [li.dataset.course, li]));
    list.replaceChildren(...data.courses.map((c) => editing.get(String(c.id)) || courseItem(c)));
    status.textContent = data.total ? "" : canTeach() ? "No courses yet. Create one from your PDFs with the form."
      : "You have not joined a course yet. Enter the join code your teacher gave you.";
  } catch (err) {
    status.textContent = `Could not load the courses: ${err.message}`;
  }
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

function courseItem(c) {
  const created = c.created_at ? dateFormat.format(new Date(c.created_at)) : "";
  const link = h("a", { href: routes.course(c.id), class: "course-link" }, c.title);
  const li = h("li", { class: "course-item", "data-course": c.id }, link,
    h("p", { class: "muted" }, [plural(c.modules, "module"), plural(c.lessons, "lesson"), created,
      c.search_ready ? "" : "indexing for chat"].filter(Boolean).join(" · ")));
  if (canTeach()) {  // a teacher's list holds only their own courses; an admin manages all
    const rename = h("button", { type: "button", class: "subtle", "aria-label": `Rename “${c.title}”` }, "Rename");
    const remove = h("button", { type: "button", class: "subtle danger-text", "aria-label": `Delete “${c.title}”` },
      "Delete");
    rename.addEventListener("click", () => startRename(li, c, link));
    remove.addEventListener("click", () => deleteCourse(li, c, remove));
    li.append(h("div", { class: "course-actions" }, rename, remove));
  }
  return li;
}

// ------------------------------------------------------------------------------ rename, delete

function startRename(li, course, link) {
  li.dataset.editing = "";
  const errorId = `rename-error-${course.id}`;
  const input = h("input", { type: "text", class: "rename-input", value: course.title, maxlength: MAX_TITLE,
    "aria-label": `New title for “${course.title}”`, "aria-describedby": errorId, autocomplete: "off" });
  const error = h("p", { id: errorId, class: "error", hidden: true });
  const hint = h("p", { class: "hint" }, "Enter saves, Escape cancels.");
  const editor = h("div", { class: "rename" }, input, hint, error);
  link.replaceWith(editor);
  input.focus();
  input.select();
  const stop = (title) => {
    delete li.dataset.editing;
    if (title) {
      course.title = title;
      link.textContent = title;
      const [renameButton, deleteButton] = li.querySelectorAll(".course-actions button");
      renameButton?.setAttribute("aria-label", `Rename “${title}”`);
      deleteButton?.setAttribute("aria-label", `Delete “${title}”`);
    }
    editor.replaceWith(link);
    li.querySelector(".course-actions button")?.focus();
  };
  input.addEventListener("keydown", async (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      stop(null);
      say($("courses-live"), "Rename cancelled.", "note");
    } else if (event.key === "Enter") {
      event.preventDefault();
      const title = input.value.replace(/\s+/g, " ").trim();
      const problem = !title ? "The title must not be blank." : title.length > MAX_TITLE
        ? `The title may have at most ${MAX_TITLE} characters.` : "";
      if (problem) return renameFailed(input, error, problem);
      if (title === course.title) return stop(null);
      input.disabled = true;
      try {
        const saved = await api(`/api/courses/${course.id}`, { method: "PATCH", json: { title } });
        stop(saved.title);
        say($("courses-live"), `Renamed to “${saved.title}”.`, "success");
      } catch (err) {
        input.disabled = false;
        renameFailed(input, error, err.message);
      }
    }
  });
}

function renameFailed(input, error, message) {
  input.setAttribute("aria-invalid", "true");
  showError(error, message);
  say($("courses-live"), `Could not rename: ${message}`);
  input.focus();
}

async function deleteCourse(li, course, button) {
  const yes = await confirmDialog({
    title: `Delete “${course.title}”?`, confirm: "Delete course", cancel: "Keep it",
    body: "Its lessons, quizzes, chats and class results are removed, for you and your students. "
      + "This cannot be undone.",
  });
  if (!yes) return;
  button.disabled = true;
  try {
    await api(`/api/courses/${course.id}`, { method: "DELETE" });
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    say($("courses-live"), `“${course.title}” was deleted.`, "success");
    (next?.querySelector("a") || $("courses-heading")).focus();
    if (!$("course-list").children.length) loadCourses();
  } catch (err) {
    button.disabled = false;
    say($("courses-live"), `Could not delete “${course.title}”: ${err.message}`);
  }
}

// ------------------------------------------------------------------------------ upload + job

function setUploading(busy, label = "Creating…") {
  for (const el of $("upload-form").elements) el.disabled = busy;
  $("upload-submit").textContent = busy ? label : "Create course";
}

export async function submitUpload(event) {
  event.preventDefault();
  const title = $("course-title").value.trim();
  const files = [...$("course-files").files];
  let problem = !title ? "Give the course a title." : !files.length ? "Choose at least one PDF file." : "";
  if (!problem) problem = await filesProblem(files);  // nothing is sent that is not a PDF
  showError($("upload-form-error"), problem);
  $("course-files").setAttribute("aria-invalid", problem && title ? "true" : "false");
  if (problem) {
    (title ? $("course-files") : $("course-title")).focus();
    return;
  }
  const form = new FormData();
  form.append("course_title", title);
  for (const file of files) form.append("files", file, file.name);

  // Until the server takes the upload there is no job: a refusal shows its error alone.
  show($("upload-job"), false);
  setUploading(true, `Uploading ${plural(files.length, "file")}…`);
  let accepted;
  try {
    accepted = await api("/api/upload-pdfs", { method: "POST", body: form });
  } catch (err) {
    setUploading(false);
    showError($("upload-form-error"), `The upload was refused: ${err.message}`);
    return;
  }
  sessionStorage.setItem(JOB_KEY, JSON.stringify({ id: accepted.job_id, title }));
  setUploading(true);
  startJobDisplay(title, accepted.message || "Processing started");
  try {
    await followJob(accepted.job_id, title);
  } finally {
    setUploading(false);
  }
}

function startJobDisplay(title, message) {
  show($("upload-job"));
  show($("upload-job").querySelector(".job-head"));
  show($("upload-progress"));
  $("upload-job-title").textContent = `“${title}”`;
  $("upload-progress").value = 0;  // a new job: the last one's 100% goes
  setProgress(0);
  $("upload-message").textContent = message;
  showError($("upload-error"), "");
  show($("upload-done"), false);
}

function setProgress(value) {
  const pct = Math.max(0, Math.min(100, Math.round(value || 0)));
  $("upload-progress").value = Math.max(pct, $("upload-progress").value);  // never backwards
  $("upload-percent").textContent = `${$("upload-progress").value}%`;
}

/** Show the job's progress until it ends (live events, or status reads while the feed is away). */
async function followJob(jobId, title) {
  let readable = false;
  let job;
  try {
    job = await watchJob(jobId, (update) => {
      setProgress(update.progress);
      $("upload-message").textContent = update.message || update.status;
      if (update.course_id && !readable) {
        readable = true;  // course first: it can be read while its passages are indexed for chat
        courseReady(update, title, "Ready to read (chat follows once indexed): ");
      }
    });
  } catch (err) {
    sessionStorage.removeItem(JOB_KEY);
    return jobFailed(err.message);
  }
  sessionStorage.removeItem(JOB_KEY);
  if (FINAL_OK.has(job.status)) return courseReady(job, title);
  const code = job.error_code ? ` (${job.error_code})` : "";
  return jobFailed(job.status === "cancelled" ? "The job was cancelled." :
    `The course could not be built: ${job.error || job.message}${code}`);
}

function jobFailed(message) {
  // Only the error stays: no "Building … N%" beside it.
  show($("upload-job").querySelector(".job-head"), false);
  show($("upload-progress"), false);
  $("upload-message").textContent = "";
  show($("upload-done"), false);
  showError($("upload-error"), message);
}

function courseReady(job, title, label = "Course ready: ") {
  const done = $("upload-done");
  const name = job.result?.course_title || title;
  done.replaceChildren(label, job.course_id ? h("a", { href: routes.course(job.course_id) }, `Open “${name}”`) : name);
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
  if (!saved?.id) return;
  setUploading(true);
  startJobDisplay(saved.title, "Checking progress…");
  followJob(saved.id, saved.title).finally(() => setUploading(false));
}

// PDFs dropped on the "New course" form, and the check every chosen file passes before anything is
// sent: a name ending in .pdf and bytes that begin like a PDF ("%PDF-" in the first KB, as the
// server reads them). The server checks again; this only spares a wasted upload and says why at once.

import { $, showError } from "./dom.js";

const HEAD_BYTES = 1024;

/** Why `file` cannot be a course's PDF, or "" when it looks like one. */
export async function pdfProblem(file) {
  const name = `“${file.name}”`;
  if (!/\.pdf$/i.test(file.name)) return `${name} is not a PDF: only PDF files can become a course.`;
  if (!file.size) return `${name} is empty.`;
  let head;
  try {
    head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  } catch {
    return `${name} could not be read.`;
  }
  const text = String.fromCharCode(...head);
  return text.includes("%PDF-") ? "" : `${name} is not a PDF (its content does not start like one).`;
}

/** The first problem among `files`, or "". */
export async function filesProblem(files) {
  for (const file of files) {
    const problem = await pdfProblem(file);
    if (problem) return problem;
  }
  return "";
}

/** Let PDFs be dropped on the form: the drop target is highlighted while files are over it, and
 *  dropped files that pass the check become the file input's files. A drop anywhere else on the
 *  page does nothing (the browser would otherwise leave the app to show the file). */
export function initDrop() {
  const form = $("upload-form");
  const input = $("course-files");
  const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  let depth = 0;  // dragenter and dragleave fire for each child the pointer crosses
  form.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    form.classList.add("drag-over");
  });
  form.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  form.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) form.classList.remove("drag-over");
  });
  form.addEventListener("drop", async (event) => {
    event.preventDefault();
    event.stopPropagation();
    depth = 0;
    form.classList.remove("drag-over");
    const files = [...(event.dataTransfer?.files || [])];
    if (!files.length || input.disabled) return;
    const problem = await filesProblem(files);
    showError($("upload-form-error"), problem);
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    if (problem) {
      input.value = "";
      input.focus();
      return;
    }
    const chosen = new DataTransfer();
    for (const file of files) chosen.items.add(file);
    input.files = chosen.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    (($("course-title").value.trim()) ? $("upload-submit") : $("course-title")).focus();
  });
  for (const type of ["dragover", "drop"]) {
    window.addEventListener(type, (event) => { if (carriesFiles(event)) event.preventDefault(); });
  }
}

// A modal "are you sure?" for actions that cannot be undone (deleting a course, stopping a job).
// A native <dialog> opened with showModal(): the browser keeps focus inside it, Escape cancels, and
// focus returns to what had it when the dialog closes.

import { h } from "./dom.js";

/** Ask; resolves true when the person confirms, false when they cancel (button, Escape). */
export function confirmDialog({ title, body, confirm, cancel = "Cancel", danger = true }) {
  const before = document.activeElement;
  const dialog = h("dialog", { class: "confirm-dialog", "aria-labelledby": "confirm-title",
    "aria-describedby": "confirm-body" },
  h("h2", { id: "confirm-title" }, title),
  h("p", { id: "confirm-body" }, body),
  h("form", { method: "dialog", class: "actions" },
    // The safe choice comes first and has the focus, so Enter alone never destroys anything.
    h("button", { type: "submit", value: "no", autofocus: true }, cancel),
    h("button", { type: "submit", value: "yes", class: danger ? "danger" : "primary" }, confirm)));
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const yes = dialog.returnValue === "yes";
      dialog.remove();
      if (before?.isConnected) before.focus();
      resolve(yes);
    }, { once: true });
    dialog.showModal();
  });
}

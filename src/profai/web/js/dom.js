// DOM helpers. Every piece of server text goes into the page through textContent (via h()),
// never innerHTML, so course content cannot inject markup.

export const $ = (id) => document.getElementById(id);

/** A DOM element: h("a", {href: "#/", class: "x", onclick: fn}, "text", child). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

export function show(el, visible = true) { el.hidden = !visible; }

export function showError(el, message) {
  el.textContent = message || "";
  show(el, Boolean(message));
}

/** Put a message into a live region (an element with aria-live that stays in the page, so screen
 *  readers announce what appears in it); kind is "error" or "success"; no message empties it. */
export function say(region, message, kind = "error") {
  region.replaceChildren(...(message ? [h("p", { class: kind }, message)] : []));
}

/** Copy text to the clipboard; false when the browser refuses (then the text is left selected in
 *  `input`, if given, for Ctrl+C). */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.focus();
    input.select();
    try { return document.execCommand("copy"); } catch { return false; }
  }
}

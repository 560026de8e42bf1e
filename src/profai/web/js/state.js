// What every feature shares: the hash routes, the open course, and focus on navigation.

/** The hash as a route: #/, #/courses/1, #/courses/1/lessons/7, #/courses/1/chat, #/courses/1/quiz. */
export function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] !== "courses" || !/^\d+$/.test(parts[1] || "")) return { view: "courses" };
  const courseId = Number(parts[1]);
  if (parts[2] === "chat") return { view: "course", courseId, panel: "chat" };
  if (parts[2] === "quiz") return { view: "course", courseId, panel: "quiz" };
  const lessonId = parts[2] === "lessons" && /^\d+$/.test(parts[3] || "") ? Number(parts[3]) : null;
  return { view: "course", courseId, panel: "lesson", lessonId };
}

export const routes = {
  course: (cid) => `#/courses/${cid}`,
  lesson: (cid, lid) => `#/courses/${cid}/lessons/${lid}`,
  chat: (cid) => `#/courses/${cid}/chat`,
  quiz: (cid) => `#/courses/${cid}/quiz`,
};

export const state = {
  course: null,         // the open course, as GET /api/courses/{id} returns it
  seq: 0,               // bumps on each navigation, so a late response for an old route is dropped
  firstRender: true,
};

export function focusHeading(el) {
  // Move focus on navigation so keyboard and screen-reader users land on the new content;
  // not on first load, where the browser's own start point is expected.
  if (state.firstRender) return;
  el.focus({ preventScroll: false });
}

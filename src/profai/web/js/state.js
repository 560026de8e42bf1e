// What every feature shares: who is signed in, the hash routes, the open course, and focus on navigation.

/** The hash as a route: #/, #/account, #/users, #/courses/1, #/courses/1/lessons/7, #/courses/1/chat,
 *  #/courses/1/quiz, #/courses/1/progress, #/courses/1/class. */
export function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "account" && parts.length === 1) return { view: "account" };
  if (parts[0] === "users" && parts.length === 1) return { view: "users" };
  if (parts[0] !== "courses" || !/^\d+$/.test(parts[1] || "")) return { view: "courses" };
  const courseId = Number(parts[1]);
  if (["chat", "quiz", "progress", "class"].includes(parts[2])) return { view: "course", courseId, panel: parts[2] };
  const lessonId = parts[2] === "lessons" && /^\d+$/.test(parts[3] || "") ? Number(parts[3]) : null;
  return { view: "course", courseId, panel: "lesson", lessonId };
}

export const routes = {
  courses: () => "#/",
  course: (cid) => `#/courses/${cid}`,
  lesson: (cid, lid) => `#/courses/${cid}/lessons/${lid}`,
  chat: (cid) => `#/courses/${cid}/chat`,
  quiz: (cid) => `#/courses/${cid}/quiz`,
  progress: (cid) => `#/courses/${cid}/progress`,
  class: (cid) => `#/courses/${cid}/class`,
};

export const state = {
  me: null,             // who is signed in, as GET /api/auth/me returns it; null while signed out
  course: null,         // the open course, as GET /api/courses/{id} returns it
  seq: 0,               // bumps on each navigation, so a late response for an old route is dropped
  firstRender: true,
};

export const role = () => state.me?.role ?? null;
export const isAdmin = () => role() === "admin";
/** Teachers and admins make courses; students join them. */
export const canTeach = () => role() === "teacher" || role() === "admin";

export function focusHeading(el) {
  // Move focus on navigation so keyboard and screen-reader users land on the new content;
  // not on first load, where the browser's own start point is expected.
  if (state.firstRender) return;
  el.focus({ preventScroll: false });
}

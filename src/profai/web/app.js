// ProfAI web UI: one page, hash routes, no build step, no network resources. This entry wires the
// feature modules in js/ to the page and renders the route; each module owns its part of index.html.
// Nothing but the sign-in screen shows until someone is signed in (the session is an HttpOnly cookie).

import { initAccount, showAccount } from "./js/account.js";
import { applyIdentity, initAuth, showSignIn, showView, whoAmI } from "./js/auth.js";
import { chatKeydown, initChat, newConversation, submitQuestion } from "./js/chat.js";
import { initClassroom } from "./js/classroom.js";
import { initSearch } from "./js/course_search.js";
import { initCourses, loadCourses, resumeJob, submitUpload } from "./js/courses.js";
import { $, show } from "./js/dom.js";
import { startLive, stopLive } from "./js/live.js";
import { listen, openCourse, prefetchCourse, showPanel, stopAudio, syncListenButton } from "./js/lesson.js";
import { initNavigation } from "./js/navigation.js";
import { initProgress } from "./js/progress.js";
import { generateQuiz, newQuiz, retakeQuiz, submitQuiz } from "./js/quiz.js";
import { focusHeading, isAdmin, parseRoute, state } from "./js/state.js";
import { initUsers, loadUsers } from "./js/users.js";

const TITLES = { courses: "Courses", account: "Account", users: "Users" };

async function render() {
  if (!state.me) return;  // the sign-in screen is up
  const seq = ++state.seq;
  let route = parseRoute();
  if (route.view === "users" && !isAdmin()) route = { view: "courses" };
  showView(`view-${route.view}`);
  show($("skip-outline"), route.view === "course");
  markNav(route.view);
  if (route.view !== "course") {
    stopAudio();  // the course view is hidden, so nothing should go on playing in it
    document.title = `${TITLES[route.view]} · ProfAI`;
    focusHeading($(`${route.view}-heading`));
    if (route.view === "courses") await loadCourses();
    else if (route.view === "account") await showAccount();
    else await loadUsers();
    return;
  }
  if (!state.course || state.course.id !== route.courseId) {
    const ok = await openCourse(route.courseId, seq);
    if (!ok || seq !== state.seq) return;
  }
  showPanel(route);
}

function markNav(view) {
  const current = { courses: "nav-courses", course: "nav-courses", account: "nav-account", users: "nav-users" }[view];
  for (const a of $("main-nav").querySelectorAll("a")) {
    if (a.id === current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
}

function wire() {
  $("upload-form").addEventListener("submit", submitUpload);
  initCourses();  // drops on the form, the jobs panel, the list's live updates
  $("sign-out").addEventListener("click", stopLive);
  initNavigation();  // the skip links, the outline's Contents toggle
  initSearch();
  $("listen-button").addEventListener("click", listen);
  const audio = $("lesson-audio");
  for (const type of ["play", "pause", "ended"]) audio.addEventListener(type, syncListenButton);
  $("chat-form").addEventListener("submit", submitQuestion);
  $("chat-input").addEventListener("keydown", chatKeydown);
  $("chat-new").addEventListener("click", newConversation);
  initChat();
  initProgress();
  $("quiz-setup").addEventListener("submit", generateQuiz);
  $("quiz-form").addEventListener("submit", submitQuiz);
  $("quiz-retake").addEventListener("click", retakeQuiz);
  $("quiz-another").addEventListener("click", newQuiz);
  initAuth(signedIn);
  initAccount();
  initUsers();
  initClassroom({ joined: loadCourses });
  window.addEventListener("hashchange", () => render());
}

let resumed = false;

/** Someone signed in (at start, or with the form): show the route they asked for. */
async function signedIn() {
  if (!resumed) {
    resumed = true;
    resumeJob();
  }
  startLive();  // the live feed of jobs and courses (teachers and admins), for whoever signed in
  await render();
}

async function start() {
  wire();
  const route = parseRoute();
  if (route.view === "course") prefetchCourse(route.courseId);
  let me;
  try {
    me = await whoAmI();
  } catch (err) {
    $("boot-status").textContent = `Could not reach the ProfAI server: ${err.message}`;
    return;
  }
  if (me) {
    applyIdentity(me);
    await signedIn().finally(() => { state.firstRender = false; });
  } else {
    state.firstRender = false;
    await showSignIn();
  }
}

start();

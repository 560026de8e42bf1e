// ProfAI web UI: one page, hash routes, no build step, no network resources. This entry wires the
// feature modules in js/ to the page and renders the route; each module owns its part of index.html.

import { loadCourses, resumeJob, submitUpload } from "./js/courses.js";
import { chatKeydown, newConversation, submitQuestion } from "./js/chat.js";
import { $, show } from "./js/dom.js";
import { listen, openCourse, showPanel, stopAudio, syncListenButton, toggleNav } from "./js/lesson.js";
import { generateQuiz, newQuiz, retakeQuiz, submitQuiz } from "./js/quiz.js";
import { focusHeading, parseRoute, state } from "./js/state.js";

async function render() {
  const seq = ++state.seq;
  const route = parseRoute();
  show($("view-courses"), route.view === "courses");
  show($("view-course"), route.view === "course");
  if (route.view === "courses") {
    stopAudio();  // the course view is hidden, so nothing should go on playing in it
    document.title = "Courses · ProfAI";
    focusHeading($("courses-heading"));
    await loadCourses();
    return;
  }
  if (!state.course || state.course.id !== route.courseId) {
    const ok = await openCourse(route.courseId, seq);
    if (!ok || seq !== state.seq) return;
  }
  showPanel(route);
}

function start() {
  $("upload-form").addEventListener("submit", submitUpload);
  $("nav-toggle").addEventListener("click", toggleNav);
  $("listen-button").addEventListener("click", listen);
  const audio = $("lesson-audio");
  for (const type of ["play", "pause", "ended"]) audio.addEventListener(type, syncListenButton);
  $("chat-form").addEventListener("submit", submitQuestion);
  $("chat-input").addEventListener("keydown", chatKeydown);
  $("chat-new").addEventListener("click", newConversation);
  $("quiz-setup").addEventListener("submit", generateQuiz);
  $("quiz-form").addEventListener("submit", submitQuiz);
  $("quiz-retake").addEventListener("click", retakeQuiz);
  $("quiz-another").addEventListener("click", newQuiz);
  window.addEventListener("hashchange", () => render());
  resumeJob();
  render().finally(() => { state.firstRender = false; });
}

start();

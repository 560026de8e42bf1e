// Classes: students join a course with its code; its teacher sees the code (and can replace it),
// who joined, each student's quiz attempts question by question, and the questions most missed.

import { api } from "./api.js";
import { $, copyText, h, say, show, showError } from "./dom.js";
import { dateLabel, pagesLabel, plural } from "./format.js";
import { routes, state } from "./state.js";

export function initClassroom({ joined }) {
  $("join-form").addEventListener("submit", (event) => joinCourse(event, joined));
  $("join-code-copy").addEventListener("click", copyJoinCode);
  $("join-code-new").addEventListener("click", newJoinCode);
  $("class-refresh").addEventListener("click", () => loadClass(state.course));
}

// ------------------------------------------------------------------------------ join (students)

async function joinCourse(event, joined) {
  event.preventDefault();
  const live = $("join-live");
  const code = $("join-code").value.trim();
  if (!code) {
    say(live, "Enter the join code your teacher gave you.");
    $("join-code").focus();
    return;
  }
  const button = $("join-submit");
  button.disabled = true;
  say(live, "");
  try {
    const result = await api("/api/join", { method: "POST", json: { code } });
    $("join-form").reset();
    live.replaceChildren(h("p", { class: "success" },
      result.new ? "You joined " : "You are in ", h("a", { href: routes.course(result.course_id) }, `“${result.title}”`),
      result.new ? "." : " already."));
    await joined();
  } catch (err) {
    say(live, err.code === "unknown_join_code"
      ? "No course has that code. Check it with your teacher." : `Could not join: ${err.message}`);
    $("join-code").focus();
  } finally {
    button.disabled = false;
  }
}

// --------------------------------------------------------------------- the join code (teachers)

/** The course head shows the join code to the course's teacher (the server sends it to them only). */
export function showJoinCode(course) {
  const manages = Boolean(course.join_code);
  show($("course-code"), manages);
  show($("nav-class-item"), manages);
  $("nav-class").href = routes.class(course.id);
  if (manages) {
    $("course-join-code").textContent = course.join_code;
    $("join-code-status").textContent = "Students enter this code under “Join a course”.";
  }
}

async function copyJoinCode() {
  const copied = await copyText($("course-join-code").textContent);
  $("join-code-status").textContent = copied ? "Join code copied." : "The browser would not copy it; select the code instead.";
}

async function newJoinCode() {
  const course = state.course;
  const button = $("join-code-new");
  button.disabled = true;
  try {
    const { join_code: code } = await api(`/api/courses/${course.id}/join-code`, { method: "POST" });
    if (state.course !== course) return;
    course.join_code = code;
    $("course-join-code").textContent = code;
    $("join-code-status").textContent = "New code made: the old one no longer works (students who joined stay).";
  } catch (err) {
    $("join-code-status").textContent = `Could not make a new code: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------- the class panel

const MISSED_SHOWN = 10;

export function resetClass() {
  $("class-missed").replaceChildren();
  show($("class-missed-section"), false);
  $("student-list").replaceChildren();
  $("class-quizzes").replaceChildren();
  show($("class-quizzes-section"), false);
  $("class-status").textContent = "";
  showError($("class-error"), "");
}

export async function loadClass(course) {
  if (!course) return;
  document.title = `Class · ${course.title} · ProfAI`;
  if (!course.join_code) {
    resetClass();
    showError($("class-error"), "Only the course's teacher sees its class.");
    return;
  }
  showError($("class-error"), "");
  $("class-status").textContent = "Loading the class…";
  try {
    const [{ students }, results, missed] = await Promise.all([
      api(`/api/courses/${course.id}/students`), api(`/api/courses/${course.id}/results`),
      api(`/api/courses/${course.id}/results/questions?limit=${MISSED_SHOWN}`)]);
    // Only the quizzes someone took, oldest first, numbered in that order; their questions' wording
    // says what each tick and cross stands for.
    const taken = results.quizzes.filter((q) => q.students.length)
      .sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
    const wording = await Promise.all(taken.map((q) =>
      api(`/api/quizzes/${encodeURIComponent(q.quiz_id)}`).catch(() => null)));
    if (state.course !== course) return;
    const quizzes = taken.map((q, i) => ({ ...q, n: i + 1, prompts: promptsOf(wording[i]) }));
    renderClass(course, students, quizzes);
    renderMissed(course, missed.questions, quizzes);
  } catch (err) {
    if (state.course !== course) return;
    $("class-status").textContent = "";
    showError($("class-error"), `Could not load the class: ${err.message}`);
  }
}

/** question id -> {n, prompt}, in the quiz's order. */
function promptsOf(quiz) {
  return new Map((quiz?.questions || []).map((q, i) => [String(q.id), { n: i + 1, prompt: q.prompt }]));
}

function renderClass(course, students, quizzes) {
  // Each student's attempts, whichever quiz they were at; attempts by others (the teacher trying a
  // quiz, say) are listed after the class.
  const byStudent = new Map();
  for (const quiz of quizzes) {
    for (const s of quiz.students) {
      const key = s.user_id ?? `email:${s.email}`;
      if (!byStudent.has(key)) byStudent.set(key, { email: s.email, attempts: [] });
      byStudent.get(key).attempts.push(...s.attempts.map((a) => ({ ...a, quiz })));
    }
  }
  const items = students.map((s) => {
    const entry = byStudent.get(s.id);
    byStudent.delete(s.id);
    return studentItem(s, entry?.attempts || [], false);
  });
  for (const other of byStudent.values()) {
    items.push(studentItem({ email: other.email || "Someone who left", name: "" }, other.attempts, true));
  }
  $("student-list").replaceChildren(...items);
  if (!items.length) {
    $("student-list").replaceChildren(h("li", { class: "muted empty" },
      `No students yet. Give them the join code ${course.join_code}.`));
  }
  $("class-quizzes").replaceChildren(...quizzes.map(quizWording));
  show($("class-quizzes-section"), quizzes.some((q) => q.prompts.size));
  const attempts = quizzes.reduce((n, q) => n + q.students.reduce((m, s) => m + s.attempts.length, 0), 0);
  $("class-status").textContent = `${plural(students.length, "student")}, ${plural(attempts, "quiz attempt")}.`;
}

const quizLabel = (quiz) => `Quiz ${quiz.n} · ${quiz.difficulty}`;

function studentItem(student, attempts, outside) {
  attempts.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  const scored = attempts.reduce((acc, a) => [acc[0] + a.score, acc[1] + a.total], [0, 0]);
  const facts = [
    outside ? "not in the class" : `joined ${dateLabel(student.joined_at)}`,
    attempts.length ? `${plural(attempts.length, "attempt")}, ${Math.round((100 * scored[0]) / (scored[1] || 1))}% right`
      : null,
  ].filter(Boolean).join(" · ");
  return h("li", { class: "student", "data-student": student.email },
    h("div", { class: "student-head" },
      h("h4", {}, student.email),
      student.name ? h("span", { class: "muted" }, student.name) : null,
      h("span", { class: "row-facts muted" }, facts)),
    attempts.length ? attemptsTable(student, attempts)
      : h("p", { class: "muted no-attempts" }, "No quiz attempts yet."));
}

function attemptsTable(student, attempts) {
  return h("table", { class: "results-table" },
    h("caption", { class: "visually-hidden" }, `Quiz attempts of ${student.email}`),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Quiz"), h("th", { scope: "col" }, "When"),
      h("th", { scope: "col" }, "Score"), h("th", { scope: "col" }, "Questions"))),
    h("tbody", {}, attempts.map((a) => h("tr", { "data-attempt": a.attempt_id },
      h("th", { scope: "row", class: "quiz-name" }, quizLabel(a.quiz)),
      h("td", { class: "when muted" }, dateLabel(a.created_at, true)),
      h("td", { class: "score-cell" }, `${a.score} / ${a.total}`),
      h("td", {}, marks(a.questions, a.quiz.prompts))))));
}

/** Question by question: its number, and a tick or a cross (spoken as "Question 2: wrong"). */
function marks(questions, prompts) {
  return h("ol", { class: "marks" }, questions.map((q, i) => {
    const p = prompts.get(String(q.question_id));
    const number = p?.n ?? i + 1;
    return h("li", { class: `mark ${q.correct ? "right" : "wrong"}`, title: p?.prompt || null,
                     "data-question": q.question_id },
      h("span", { "aria-hidden": "true" }, `${number} ${q.correct ? "✓" : "✗"}`),
      h("span", { class: "visually-hidden" }, `Question ${number}: ${q.correct ? "right" : "wrong"}`));
  }));
}

function quizWording(quiz) {
  if (!quiz.prompts.size) return null;
  return h("details", { class: "prompts", "data-quiz": quiz.quiz_id },
    h("summary", {}, `${quizLabel(quiz)} · ${plural(quiz.questions, "question")} · ${dateLabel(quiz.created_at, true)}`),
    h("ol", {}, [...quiz.prompts.values()].map((p) => h("li", {}, p.prompt))));
}

/** The questions the class got wrong most often, each with how often, its answer and where to read. */
function renderMissed(course, questions, quizzes) {
  const byId = new Map(quizzes.map((q) => [q.quiz_id, q]));
  $("class-missed").replaceChildren(...questions.map((q) => {
    const quiz = byId.get(q.quiz_id);
    const number = quiz?.prompts.get(String(q.question_id))?.n;
    const where = [quiz ? quizLabel(quiz) : null, number ? `question ${number}` : null].filter(Boolean).join(", ");
    return h("li", { class: "missed", "data-quiz": q.quiz_id, "data-question": q.question_id },
      h("p", { class: "missed-prompt" }, q.prompt),
      h("p", { class: "missed-count" }, `Missed in ${q.missed} of ${plural(q.answered, "attempt")}`,
        where ? h("span", { class: "muted" }, ` · ${where}`) : null),
      h("p", { class: "muted" }, `Answer: ${q.correct_option}`,
        q.source?.file ? ` · ${pagesLabel(q.source.file, q.source.page, null, course)}` : ""));
  }));
  show($("class-missed-section"), questions.length > 0);
}

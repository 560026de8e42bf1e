// The quiz: choose its size and scope, answer, then see the score with each question's explanation.

import { api } from "./api.js";
import { $, h, show, showError } from "./dom.js";
import { pagesLabel, plural } from "./format.js";
import { state } from "./state.js";

const MAX_QUESTIONS = 30;  // the server's limit (services/quizzes.py)

const quiz = { current: null };  // the quiz being taken: {quiz_id, questions, ...}

export function resetQuiz() {
  quiz.current = null;
  $("quiz-questions").replaceChildren();
  show($("quiz-form"), false);
  show($("quiz-result"), false);
  show($("quiz-setup"));
  showError($("quiz-error"), "");
  $("quiz-status").textContent = "";
}

export async function generateQuiz(event) {
  event.preventDefault();
  const count = Number($("quiz-count").value);
  if (!Number.isInteger(count) || count < 1 || count > MAX_QUESTIONS) {
    showError($("quiz-error"), `Choose between 1 and ${MAX_QUESTIONS} questions.`);
    $("quiz-count").focus();
    return;
  }
  const body = { questions: count, difficulty: $("quiz-difficulty").value };
  if ($("quiz-module").value) body.module_id = Number($("quiz-module").value);
  const course = state.course;
  const button = $("quiz-generate");
  button.disabled = true;
  showError($("quiz-error"), "");
  $("quiz-status").textContent = "Writing the questions…";
  try {
    const data = await api(`/api/courses/${course.id}/quizzes`, { method: "POST", json: body });
    if (state.course !== course) return;
    takeQuiz(data);
  } catch (err) {
    $("quiz-status").textContent = "";
    showError($("quiz-error"), `Could not make a quiz: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

function takeQuiz(data) {
  quiz.current = data;
  show($("quiz-result"), false);
  showError($("quiz-error"), "");
  $("quiz-status").textContent = `${plural(data.questions.length, "question")}, ${data.difficulty}. Choose one answer each.`;
  $("quiz-questions").replaceChildren(...data.questions.map((q, i) =>
    h("li", { class: "question", "data-question": q.id },
      h("fieldset", {},
        h("legend", {}, h("span", { class: "q-number" }, `Question ${i + 1}. `), q.prompt),
        h("div", { class: "options" }, q.options.map((option, j) =>
          h("label", { class: "option" },
            h("input", { type: "radio", name: `q-${q.id}`, value: j }),
            h("span", {}, option))))),
      h("div", { class: "feedback", hidden: true }))));
  for (const b of ["quiz-retake", "quiz-another"]) show($(b), false);
  show($("quiz-submit"));
  $("quiz-submit").disabled = false;
  show($("quiz-form"));
  $("quiz-form").querySelector("input")?.focus();
}

export async function submitQuiz(event) {
  event.preventDefault();
  const current = quiz.current;
  if (!current) return;
  const answers = {};
  const missing = [];
  current.questions.forEach((q, i) => {
    const chosen = $("quiz-form").querySelector(`input[name="q-${q.id}"]:checked`);
    if (chosen) answers[String(q.id)] = Number(chosen.value); else missing.push(i + 1);
  });
  if (missing.length) {
    showError($("quiz-error"), `Answer every question first (still open: ${missing.join(", ")}).`);
    $("quiz-form").querySelector(`[data-question="${current.questions[missing[0] - 1].id}"] input`)?.focus();
    return;
  }
  showError($("quiz-error"), "");
  $("quiz-submit").disabled = true;
  try {
    const result = await api(`/api/quizzes/${current.quiz_id}/attempts`, { method: "POST", json: { answers } });
    if (quiz.current === current) showResult(current, result);
  } catch (err) {
    showError($("quiz-error"), `Could not grade the quiz: ${err.message}`);
    $("quiz-submit").disabled = false;
  }
}

function showResult(current, result) {
  const byId = new Map(result.feedback.map((f) => [String(f.question_id), f]));
  for (const item of $("quiz-questions").children) {
    const f = byId.get(item.dataset.question);
    const q = current.questions.find((x) => String(x.id) === item.dataset.question);
    for (const input of item.querySelectorAll("input")) input.disabled = true;
    if (!f) continue;
    item.classList.add(f.correct ? "right" : "wrong");
    item.querySelectorAll(".option").forEach((label, j) => {
      label.classList.toggle("is-correct", j === f.correct_index);
      label.classList.toggle("is-wrong", j === f.chosen && !f.correct);
    });
    const source = f.source || q?.source;
    const box = item.querySelector(".feedback");
    box.replaceChildren(
      h("p", { class: f.correct ? "verdict ok" : "verdict bad" },
        f.correct ? "Correct." : `Not quite. The answer is: ${f.correct_option ?? q?.options[f.correct_index]}`),
      f.explanation ? h("p", {}, f.explanation) : null,
      source ? h("p", { class: "muted" }, `Source: ${pagesLabel(source.file, source.page, source.page_end, state.course)}`) : null);
    show(box);
  }
  $("quiz-score").textContent = `${result.score} / ${result.total}`;
  const pct = result.total ? Math.round((100 * result.score) / result.total) : 0;
  $("quiz-score-note").textContent = pct === 100 ? "All correct. Well done!"
    : `${pct}% correct. Read the explanations below and the pages they cite.`;
  $("quiz-status").textContent = "";
  show($("quiz-result"));
  show($("quiz-submit"), false);
  for (const b of ["quiz-retake", "quiz-another"]) show($(b));
  $("quiz-score-heading").focus();
}

export function retakeQuiz() {
  takeQuiz(quiz.current);
}

export function newQuiz() {
  resetQuiz();
  $("quiz-count").focus();
}

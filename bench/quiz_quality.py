"""Quiz quality over R-intro.pdf's course (issue 17): the share of cloze prompts with exactly one
blank (goal 100%) and the share of wrong options that are course key terms of the answer's kind
(goal >= 95%), over 30-question quizzes at every difficulty and several seeds.

A wrong option counts as good when the term it stands for (the option itself for a cloze question,
the term defined or named for the other kinds) is one of the lessons' key terms, case aside, and
its kind (code, acronym, name, plain: quiz_terms.term_kind) is the answer's. With --embedder the
quizzes rank wrong options with the real MiniLM model, and the mean cosine of each wrong option to
its answer is set against that of a random key term of the same kind, per difficulty.

The "before" figures in bench/results/quiz_quality.json were measured on the code before issue 17
(cloze only, every option a term, no embed argument) by an earlier copy of this file that read
kinds through the then-private helpers; the measure is the same.

Usage: python bench/quiz_quality.py [--label after] [--embedder]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import R_MANUALS, previous, save  # noqa: E402

from profai.ingest.pdf import read_pdf  # noqa: E402
from profai.providers.generator import ExtractiveGenerator, quiz  # noqa: E402
from profai.providers.generator.quiz_neighbours import EmbedFn  # noqa: E402
from profai.providers.generator.quiz_terms import CourseText, term_kind  # noqa: E402
from profai.providers.generator.sections import prose_only  # noqa: E402

SEEDS = range(5)
QUESTIONS = 30


def course_lessons() -> list[quiz.QuizLesson]:
    """The quiz input of R-intro.pdf's whole course, built as the app builds it."""
    doc = read_pdf(R_MANUALS / "R-intro.pdf", "R-intro.pdf")
    course = ExtractiveGenerator().build_course("R-intro", [doc])
    return [quiz.QuizLesson(str(i), le.title, prose_only(le.content, le.blocks), le.key_terms, le.source_file,
                            le.page_start, le.page_end, le.page_marks)
            for i, le in enumerate(le for m in course.modules for le in m.lessons)]


def key_terms(lessons: Sequence[quiz.QuizLesson]) -> dict[str, str]:
    """Every lesson key term, lowercased, with its surface as listed."""
    return {" ".join(t.split()).lower(): " ".join(t.split()) for lesson in lessons for t in lesson.key_terms}


def kind_finder(lessons: Sequence[quiz.QuizLesson]) -> Callable[[str], str]:
    """The kind of a term as the quiz tells kinds apart."""
    course = CourseText("\n\n".join(le.content for le in lessons))
    return lambda surface: term_kind(surface, course)


def measure(lessons: Sequence[quiz.QuizLesson], embed: EmbedFn | None = None) -> dict[str, Any]:
    """Generate the quizzes and score them."""
    terms, kind = key_terms(lessons), kind_finder(lessons)
    drafts: dict[str, list[quiz.QuestionDraft]] = {d: [] for d in quiz.DIFFICULTIES}
    seconds = []
    for difficulty in quiz.DIFFICULTIES:
        for seed in SEEDS:
            started = time.perf_counter()
            drafts[difficulty] += quiz.make_questions(lessons, QUESTIONS, difficulty, random.Random(seed), embed)
            seconds.append(time.perf_counter() - started)
    every = [q for qs in drafts.values() for q in qs]
    cloze = [q for q in every if q.kind == "cloze"]
    wrong = [(q.option_terms[q.correct_index], term) for q in every
             for i, term in enumerate(q.option_terms) if i != q.correct_index]
    good = sum(term.lower() in terms and kind(term) == kind(answer) for answer, term in wrong)
    figures: dict[str, Any] = {
        "questions": len(every),
        "by_kind": dict(Counter(q.kind for q in every)),
        "single_blank_share": round(sum(q.prompt.count(quiz.BLANK) == 1 for q in cloze) / max(1, len(cloze)), 4),
        "distractors": len(wrong),
        "distractor_key_term_same_kind_share": round(good / max(1, len(wrong)), 4),
        "seconds_per_quiz_mean": round(mean(seconds), 3),
    }
    if embed is not None:
        figures["cosine_to_answer"] = nearness(drafts, terms, kind, embed)
    return figures


def nearness(drafts: dict[str, list[quiz.QuestionDraft]], terms: dict[str, str], kind: Callable[[str], str],
             embed: EmbedFn) -> dict[str, dict[str, float]]:
    """Per difficulty, the mean cosine of each wrong option to its answer, and of a random key term
    of the answer's kind to it."""
    rng = random.Random(0)
    by_kind: dict[str, list[str]] = {}
    for surface in terms.values():
        by_kind.setdefault(kind(surface), []).append(surface)
    pairs = {d: [(q.option_terms[q.correct_index], t) for q in qs for i, t in enumerate(q.option_terms)
                 if i != q.correct_index] for d, qs in drafts.items()}
    randoms = {d: [(a, rng.choice(by_kind.get(kind(a)) or list(terms.values()))) for a, _ in ps]
               for d, ps in pairs.items()}
    texts = sorted({w for ps in [*pairs.values(), *randoms.values()] for pair in ps for w in pair})
    vectors = dict(zip(texts, embed(texts)))

    def cosine(a: str, b: str) -> float:
        return sum(x * y for x, y in zip(vectors[a], vectors[b]))

    return {d: {"distractor": round(mean(cosine(a, b) for a, b in pairs[d]), 4),
                "random_key_term": round(mean(cosine(a, b) for a, b in randoms[d]), 4)} for d in drafts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="after", help="the key the figures are saved under")
    parser.add_argument("--embedder", action="store_true", help="quizzes with the real MiniLM embedder")
    args = parser.parse_args()
    embed = None
    if args.embedder:
        from profai.providers.embedder import OnnxMiniLM

        embed = OnnxMiniLM(threads=2).embed
    lessons = course_lessons()
    figures = previous("quiz_quality")
    label = args.label + ("_embedder" if args.embedder else "")
    figures[label] = {"lessons": len(lessons), "quizzes": len(SEEDS) * len(quiz.DIFFICULTIES),
                      "questions_per_quiz": QUESTIONS, **measure(lessons, embed)}
    save("quiz_quality", figures)


if __name__ == "__main__":
    main()

"""The default course generator: structure, summaries and key terms taken verbatim from the PDFs."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from profai.domain import ChatAnswer, CourseDraft, LessonDraft, ModuleDraft, Passage, PdfDocument, Turn
from profai.errors import InvalidInput
from profai.providers.generator.answer import answer_question
from profai.providers.generator.base import EmbedFn, ProgressFn
from profai.providers.generator.keyterms import KeyTermIndex, TermCounts, count_terms
from profai.providers.generator.sections import ModulePlan
from profai.providers.generator.structure import plan_document
from profai.providers.generator.summarize import summarize

if TYPE_CHECKING:
    from profai.providers.generator.quiz import QuestionDraft, QuizLesson

MAX_KEY_TERMS = 8


class ExtractiveGenerator:
    """Builds courses without a language model, so nothing in a lesson is invented."""

    name = "extractive"

    def build_course(
        self, title: str, documents: Sequence[PdfDocument], progress: ProgressFn | None = None
    ) -> CourseDraft:
        """One course from `documents`: modules in document order, lessons with summaries and key terms."""
        report = progress or (lambda fraction, message: None)
        if not documents:
            raise InvalidInput("Add at least one document to build a course from.", code="no_documents")
        plans: list[tuple[PdfDocument, ModulePlan]] = []
        for i, doc in enumerate(documents):
            report(0.4 * i / len(documents), f"Finding chapters and sections in {doc.filename}")
            plans.extend((doc, plan) for plan in plan_document(doc))
        if not plans:
            raise InvalidInput("The documents contain no text to build lessons from.", code="no_text")

        report(0.4, "Weighting key terms across the course")
        lesson_terms = [[count_terms(s.words_text) for s in plan.sections] for _, plan in plans]
        index = KeyTermIndex([terms for module in lesson_terms for terms in module])

        modules: list[ModuleDraft] = []
        for m, ((doc, plan), terms) in enumerate(zip(plans, lesson_terms)):
            if m % 5 == 0:
                report(0.45 + 0.5 * m / len(plans), f"Writing summaries ({m + 1} of {len(plans)} modules)")
            lessons = []
            for section, counts in zip(plan.sections, terms):
                key_terms = index.top_terms(counts, MAX_KEY_TERMS)
                lessons.append(
                    LessonDraft(
                        title=section.title or _title_from_terms(key_terms, "Lesson"),
                        content=section.text,
                        summary=summarize(section.prose),
                        key_terms=key_terms,
                        source_file=doc.filename,
                        page_start=min(p.page_start for p in section.paras),
                        page_end=max(p.page_end for p in section.paras),
                        page_marks=section.page_marks,
                        blocks=section.blocks,
                    )
                )
            module_title = plan.title or _module_title(plan, terms, index, len(modules) + 1)
            modules.append(ModuleDraft(title=module_title, lessons=lessons))
        report(1.0, f"Built {len(modules)} modules and {sum(len(m.lessons) for m in modules)} lessons")
        return CourseDraft(title=title, modules=modules)

    def stream_answer(self, question: str, passages: Sequence[Passage], history: Sequence[Turn] = ()
                      ) -> Iterator[str | ChatAnswer]:
        """Sentence by sentence: the answer is chosen whole, then sent as it would be read."""
        answer = answer_question(question, passages, history)
        for n, sentence in enumerate(answer.sentences):
            yield sentence if n == 0 else " " + sentence
        yield ChatAnswer(answer.text, answer.citations, answer.grounded, self.name)

    def quiz_questions(self, lessons: Sequence[QuizLesson], n: int, difficulty: str, rng: random.Random,
                       embed: EmbedFn | None = None) -> list[QuestionDraft]:
        from profai.providers.generator.quiz import make_questions

        return make_questions(lessons, n, difficulty, rng, embed)


def _module_title(plan: ModulePlan, terms: list[TermCounts], index: KeyTermIndex, number: int) -> str:
    """Name an untitled module by the key terms of all its lessons together."""
    combined = TermCounts(counts=sum((t.counts for t in terms), start=type(terms[0].counts)()), surface={})
    for t in reversed(terms):
        combined.surface.update(t.surface)  # earliest lesson wins: first occurrence in the module
    return _title_from_terms(index.top_terms(combined, 2), f"Part {number}")


def _title_from_terms(terms: list[str], fallback: str) -> str:
    """'Photosynthesis and chlorophyll' from the top two terms, capitalised like a title."""
    if not terms:
        return fallback
    head = terms[0][:1].upper() + terms[0][1:]
    return f"{head} and {terms[1]}" if len(terms) > 1 else head

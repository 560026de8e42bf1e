"""Lessons a language model writes from blocks, against the local OpenAI-format server: the model
sees each code listing as a placeholder and writes prose only; the code blocks come back byte for
byte; an answer that loses, repeats, alters or invents a placeholder keeps the extractive lesson."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable

import pytest

from fakes.openai_server import FakeOpenAI
from profai.domain import Block, LessonDraft
from profai.providers.generator import ExtractiveGenerator
from profai.providers.generator.llm import LLMGenerator
from profai.providers.generator.llm_blocks import coded_source, placeholders_kept
from profai.providers.generator.llm_schemas import LessonText, checked_lesson
from profai.providers.generator.quiz import QuizLesson
from profai.providers.generator.sections import prose_only
from profai.providers.http_retry import RetryPolicy
from profai.providers.openai_chat import ChatClient
from profai.providers.ratelimit import LocalRateLimiter
from textbook import QUOTE

FAST = RetryPolicy(max_attempts=3, backoff_base=0.05, timeout=5.0)


@pytest.fixture(scope="module")
def extractive(book_doc):
    return ExtractiveGenerator().build_course("Programming", [book_doc])


@pytest.fixture
def api():
    with FakeOpenAI() as server:
        yield server


def generator(api: FakeOpenAI) -> LLMGenerator:
    client = ChatClient(api.url, "fake-model", "sk-test", retry=FAST, limiter=LocalRateLimiter(100))
    return LLMGenerator(client, ExtractiveGenerator())


def lessons(course) -> list[LessonDraft]:
    return [lesson for module in course.modules for lesson in module.lessons]


def code_lines(book) -> set[str]:
    return {line.strip() for listing in book.code for line in listing.split("\n") if len(line.strip()) > 3}


def rewrite(source: str) -> str:
    """Each paragraph of `source` begun anew ("In this lesson, ..."); placeholders, headings,
    lists and captions kept as they are."""
    return "\n\n".join(p if p.startswith(("[[CODE", "#", "•", "Figure")) else "In this lesson, " + p
                       for p in source.split("\n\n"))


def writer(edit: Callable[[str], str] = lambda text: text) -> Callable[[dict], str]:
    """A model that rewrites its <source>, then applies `edit` to what it wrote."""

    def reply(body: dict) -> str:
        prompt = next(m["content"] for m in body["messages"] if "<source>" in m["content"])
        source = re.search(r"<source>\n(.*)\n</source>", prompt, re.DOTALL).group(1)
        return json.dumps({"content": edit(rewrite(source)), "summary": source.split(". ")[0] + ".",
                           "key_terms": re.findall(r"[a-z]{8,}", source)[:3]})

    return reply


def test_code_blocks_come_back_byte_identical_around_the_models_prose(api, book, book_doc, extractive):
    api.reply = writer()
    course = generator(api).build_course("Programming", [book_doc])
    assert [b.text for le in lessons(course) for b in le.blocks if b.kind == "code"] == book.code
    # A quotation is someone's exact words: it passes through as code does.
    assert [b.text for le in lessons(course) for b in le.blocks if b.kind == "quote"] == [QUOTE]
    for before, after in zip(lessons(extractive), lessons(course), strict=True):
        assert after.content == "\n\n".join(b.text for b in after.blocks)
        assert [b for b in after.blocks if b.kind != "paragraph"] == [b for b in before.blocks if b.kind != "paragraph"]
        assert all(b.text.startswith("In this lesson, ") for b in after.blocks if b.kind == "paragraph")
        assert after.page_marks == [] and before.page_marks
        assert (after.title, after.page_start, after.page_end) == (before.title, before.page_start, before.page_end)
    # The model never saw a line of code: it had placeholders, in order, and the headings as markdown.
    prompts = [m["content"] for body in api.bodies for m in body["messages"]]
    assert not any(line in prompt for prompt in prompts for line in code_lines(book))
    assert any("[[CODE 1]]" in p and "[[CODE 2]]" in p and "### 1.2 Functions" in p for p in prompts)


def _drop(text: str) -> str:
    return text.replace("[[CODE 1]]", "", 1)


def _duplicate(text: str) -> str:
    return text + "\n\n[[CODE 1]]"


def _swap(text: str) -> str:
    return text.replace("[[CODE 1]]", "@").replace("[[CODE 2]]", "[[CODE 1]]").replace("@", "[[CODE 2]]")


@pytest.mark.parametrize("edit", [
    _drop, _duplicate, _swap,
    lambda text: text.replace("[[CODE 1]]", "[[CODE1]]"),
    lambda text: text.replace("[[CODE 1]]", "[[code 1]]"),
    lambda text: text.replace("[[CODE 1]]", "[[CODE 1]"),
    lambda text: text.replace("[[CODE 1]]", "CODE 1"),
    lambda text: text + "\n\n[[CODE 7]]",
], ids=["dropped", "duplicated", "reordered", "no space", "lower case", "one bracket", "no brackets", "invented"])
def test_a_lost_repeated_or_altered_placeholder_keeps_the_extractive_lesson(api, book, book_doc, extractive, edit):
    api.reply = writer(edit)
    course = generator(api).build_course("Programming", [book_doc])
    kept = 0
    for before, after in zip(lessons(extractive), lessons(course), strict=True):
        written = rewrite(coded_source(before).text)
        if edit(written) != written:
            assert (after.blocks, after.content, after.page_marks) == (before.blocks, before.content,
                                                                       before.page_marks)
            kept += 1
        else:  # the edit found nothing to break in this lesson: written by the model
            assert after.content != before.content and after.page_marks == []
    assert kept >= 2 and [b.text for le in lessons(course) for b in le.blocks if b.kind == "code"] == book.code


def test_code_the_model_writes_into_its_prose_cannot_change_a_code_block(api, book, book_doc, extractive):
    # Its own version of a listing, as prose after the placeholder: the listing stays the book's.
    api.reply = writer(lambda text: text.replace("[[CODE 1]]", "[[CODE 1]]\n\ntotal = count * price * 2", 1))
    course = generator(api).build_course("Programming", [book_doc])
    written = lessons(course)[1]
    assert [b.text for b in written.blocks if b.kind == "code"] == book.code[:2]
    assert "total = count * price * 2" in [b.text for b in written.blocks if b.kind == "paragraph"]
    assert [b.text for le in lessons(course) for b in le.blocks if b.kind == "code"] == book.code

    # A fenced listing of its own is code it invented: the lesson keeps the source.
    api.reply = writer(lambda text: text.replace("[[CODE 1]]", "[[CODE 1]]\n\n```\ncount = 4\n```", 1))
    course = generator(api).build_course("Programming", [book_doc])
    assert [b.text for le in lessons(course) for b in le.blocks if b.kind == "code"] == book.code
    assert all((after.blocks, after.content) == (before.blocks, before.content)
               for before, after in zip(lessons(extractive), lessons(course))
               if any(b.kind == "code" for b in before.blocks))


def test_questions_on_a_written_lesson_are_drafted_from_its_prose(api, book, book_doc):
    api.reply = writer()
    course = generator(api).build_course("Programming", [book_doc])
    # As the quiz service builds them: the content with code, headings and captions blanked out.
    quiz = [QuizLesson(str(i), le.title, prose_only(le.content, le.blocks), le.key_terms, le.source_file,
                       le.page_start, le.page_end, le.page_marks) for i, le in enumerate(lessons(course))]
    api.reply = json.dumps({"questions": []})  # no questions: the extractive top-up answers
    generator(api).quiz_questions(quiz, 4, "easy", random.Random(3))
    prompt = next(m["content"] for m in api.bodies[-1]["messages"] if "<lesson>" in m["content"])
    assert "In this lesson, A function packages instructions" in prompt and "\n\n\n" not in prompt
    assert not any(line in prompt for line in code_lines(book))


def test_the_model_keeps_the_books_headings_and_captions_but_adds_none():
    blocks = [Block("heading", "2.1 Making data frames", 2),
              Block("paragraph", "A data frame holds a table of measurements with named columns."),
              Block("code", "frame = {\n    \"site\": [\"north\"],\n}"),
              Block("caption", "Figure 2.1: A data frame with one column.")]
    content = "\n\n".join(b.text for b in blocks)
    lesson = LessonDraft("Frames", content, "A data frame holds a table.", ["data frame"], "b.pdf", 3, 3,
                         [(0, 3)], blocks)
    source = coded_source(lesson).text
    assert source == ("## 2.1 Making data frames\n\nA data frame holds a table of measurements with named columns."
                      "\n\n[[CODE 1]]\n\nFigure 2.1: A data frame with one column.")
    out = LessonText(content="## 2.1 Making data frames\n\n# Overview\n\nA data frame holds a table of "
                             "measurements,\nwith named columns.\n\n[[CODE 1]]\n\nFigure 2.1: A data frame "
                             "with one column.", summary="A data frame holds a table.", key_terms=["frame = {"])
    checked = checked_lesson(lesson, out, source)
    assert checked.blocks == [blocks[0], Block("paragraph", "A data frame holds a table of measurements, with "
                                                            "named columns."), blocks[2], blocks[3]]
    assert checked.key_terms == ["data frame"]  # a term found only in the code is not grounded


@pytest.mark.parametrize(("text", "kept"), [
    ("a [[CODE 1]] b [[CODE 2]]", True),
    ("lst[[1]] picks an element. [[CODE 1]] [[CODE 2]]", True),  # R's [[ is prose, not a placeholder
    ("[[CODE 1]]", False),
    ("[[CODE 2]] [[CODE 1]]", False),
    ("[[CODE 1]] [[ CODE 2 ]]", False),
    ("[[CODE 1]] [[CODE 2]] ```x = 1```", False),
])
def test_placeholders_are_checked_exactly(text, kept):
    assert placeholders_kept(text, 2) is kept

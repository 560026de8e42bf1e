"""LLMGenerator against a real local OpenAI-format server: cited streamed answers, quizzes and
lessons checked against the course text, and the extractive backend whenever the model fails."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace

import pytest

from factories import make_pdf
from fakes.openai_server import FakeOpenAI, split_tokens
from profai.domain import ChatAnswer, LessonDraft, Passage, PdfDocument
from profai.ingest.pdf import read_pdf
from profai.providers.generator import ExtractiveGenerator
from profai.providers.generator.answer import NOT_FOUND
from profai.providers.generator.base import final_answer
from profai.providers.generator.llm import BROKE_OFF_NOTE, UNAVAILABLE_NOTE, LLMGenerator
from profai.providers.generator.llm_prompts import quiz_excerpt
from profai.providers.generator.llm_schemas import LessonText, checked_lesson, grounded_terms
from profai.providers.generator.quiz import KINDS, QuizLesson
from profai.providers.http_retry import RetryPolicy
from profai.providers.openai_chat import ChatClient, ModelUnavailable
from profai.providers.ratelimit import LocalRateLimiter
from profai.providers.registry import build_generator
from support import make_settings

FAST = RetryPolicy(max_attempts=3, backoff_base=0.05, timeout=2.0)
RESPIRATION = Passage("resp", "Cellular respiration releases the energy stored in glucose so that cells can do work. "
                      "Yeast ferments glucose into ethanol and carbon dioxide.", "biology.pdf", 2, 2, 0.03)
PHOTO = Passage("photo", "Photosynthesis is the process by which green plants convert light energy into chemical "
                "energy. Chlorophyll absorbs red and blue light and reflects green light, which is why leaves look "
                "green.", "biology.pdf", 1, 1, 0.02)
GENETICS = Passage("gen", "Genetics is the study of heredity. Each gene can exist in different forms called alleles. "
                   "A dominant allele masks a recessive allele.", "biology.pdf", 3, 4, 0.01)
PASSAGES = [RESPIRATION, PHOTO, GENETICS]


@pytest.fixture
def api():
    with FakeOpenAI(retry_after=0.2) as server:
        yield server


def generator(api: FakeOpenAI, *, fallback: bool = True, retry: RetryPolicy = FAST, **kw) -> LLMGenerator:
    client = ChatClient(api.url, "fake-model", "sk-test", retry=retry, limiter=LocalRateLimiter(100))
    return LLMGenerator(client, ExtractiveGenerator() if fallback else None, **kw)


def run(stream) -> tuple[list[str], ChatAnswer]:
    pieces = list(stream)
    assert isinstance(pieces[-1], ChatAnswer) and all(isinstance(p, str) for p in pieces[:-1])
    return pieces[:-1], pieces[-1]


# --- chat -----------------------------------------------------------------------------------


def test_streamed_answer_cites_the_passages_its_markers_name(api):
    api.reply = ("Chlorophyll absorbs red and blue light [2]. Genes come in different forms called alleles [3, 9]. "
                 "Cells release energy from glucose. [1][4]")
    history = [("What is photosynthesis?", "Plants turn light into chemical energy [1].")]
    pieces, answer = run(generator(api).stream_answer("What does chlorophyll absorb?", PASSAGES, history))

    assert len(pieces) == len(split_tokens(api.reply)) and "".join(pieces) == api.reply
    assert answer.text == ("Chlorophyll absorbs red and blue light [2]. Genes come in different forms called "
                           "alleles [3]. Cells release energy from glucose. [1]")  # [9] and [4] name no passage
    assert answer.grounded and not answer.fallback and answer.note is None
    assert answer.generator == "openai:fake-model"
    assert [(c.number, c.passage_id, c.page_start, c.page_end) for c in answer.citations] == [
        (1, "resp", 2, 2), (2, "photo", 1, 1), (3, "gen", 3, 4)]
    quotes = {c.passage_id: c.quotes for c in answer.citations}
    assert quotes["photo"] == ("Chlorophyll absorbs red and blue light and reflects green light, which is why leaves "
                               "look green.",)
    assert quotes["gen"] == ("Each gene can exist in different forms called alleles.",)
    assert quotes["resp"] == ("Cellular respiration releases the energy stored in glucose so that cells can do work.",)

    body = api.bodies[0]
    assert body["stream"] is True
    system, *turns = body["messages"]
    assert "[2] (biology.pdf, page 1)\nPhotosynthesis is" in system["content"]
    assert "[3] (biology.pdf, pages 3-4)" in system["content"] and "NOT_IN_COURSE" in system["content"]
    assert turns == [{"role": "user", "content": "What is photosynthesis?"},
                     {"role": "assistant", "content": "Plants turn light into chemical energy."},
                     {"role": "user", "content": "What does chlorophyll absorb?"}]


@pytest.mark.parametrize("reply", ["NOT_IN_COURSE", "  NOT_IN_COURSE.", "The passages are about biology. NOT_IN_COURSE"])
def test_the_sentinel_means_not_in_the_course(api, reply):
    api.reply = reply
    pieces, answer = run(generator(api).stream_answer("Who won the 1998 world cup?", PASSAGES))
    assert not answer.grounded and not answer.fallback and answer.citations == []
    assert answer.text.endswith(NOT_FOUND) and "NOT_IN" not in "".join(pieces)
    assert "".join(pieces).strip() == answer.text


def test_an_answer_without_valid_markers_is_not_grounded(api):
    api.reply = "Plants are green because of chlorophyll [7]."
    _, answer = run(generator(api).stream_answer("Why are leaves green?", PASSAGES))
    assert answer.text == "Plants are green because of chlorophyll." and not answer.grounded
    assert answer.citations == []


def test_no_passages_means_no_call(api):
    pieces, answer = run(generator(api).stream_answer("What is ATP?", []))
    assert pieces == [NOT_FOUND] and answer.text == NOT_FOUND and not answer.grounded
    assert api.requests == []


def test_a_model_down_before_the_first_token_gives_the_extractive_answer():
    expected = final_answer(ExtractiveGenerator().stream_answer("What does chlorophyll absorb?", PASSAGES))
    with FakeOpenAI(api_key="sk-other") as api:  # 401: refused at once, no retries
        pieces, answer = run(generator(api).stream_answer("What does chlorophyll absorb?", PASSAGES))
        assert (answer.text, answer.citations, answer.grounded) == (expected.text, expected.citations, True)
        assert answer.generator == "extractive" and answer.fallback and answer.note == UNAVAILABLE_NOTE
        assert "".join(pieces) == answer.text and len(api.requests) == 1
        with pytest.raises(ModelUnavailable):
            list(generator(api, fallback=False).stream_answer("What does chlorophyll absorb?", PASSAGES))


def test_a_slow_model_falls_back_within_a_bounded_time():
    with FakeOpenAI(p_slow=1.0, slow_seconds=5) as api:
        _, answer = run(generator(api, retry=RetryPolicy(max_attempts=5, backoff_base=0.05, timeout=0.3))
                        .stream_answer("What does chlorophyll absorb?", PASSAGES))
    # Two attempts fit in the answer's deadline (twice the per-attempt timeout), not five.
    assert answer.fallback and answer.generator == "extractive" and answer.grounded
    assert len(api.received) == 2


def test_a_stream_that_breaks_off_keeps_what_was_said(api):
    api.reply = "Chlorophyll absorbs red [2] and blue light, and reflects green light."
    api.script("stream_cut")  # four tokens, then the stream ends without [DONE]
    gen = LLMGenerator(ChatClient(api.url, "fake-model", retry=FAST), ExtractiveGenerator())
    pieces, answer = run(gen.stream_answer("What does chlorophyll absorb?", PASSAGES))
    assert "".join(pieces) == "Chlorophyll absorbs red [2]" == answer.text
    assert answer.fallback and answer.note == BROKE_OFF_NOTE and answer.generator == "openai:fake-model"
    assert [c.passage_id for c in answer.citations] == ["photo"] and answer.grounded


def test_429_then_success(api):
    api.script("429_retry_after")
    api.reply = "Yeast ferments glucose into ethanol [1]."
    _, answer = run(generator(api).stream_answer("What does yeast make?", PASSAGES))
    assert answer.grounded and not answer.fallback and [c.passage_id for c in answer.citations] == ["resp"]
    assert [status for _, _, status in api.requests] == [429, 200]


# --- quizzes --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bio_doc(tmp_path_factory) -> PdfDocument:
    return read_pdf(make_pdf(tmp_path_factory.mktemp("bio") / "biology.pdf"), "biology.pdf")


@pytest.fixture(scope="module")
def lessons(bio_doc) -> list[QuizLesson]:
    course = ExtractiveGenerator().build_course("Biology", [bio_doc])
    return [QuizLesson(f"l{i}", le.title, le.content, le.key_terms, le.source_file, le.page_start, le.page_end)
            for i, le in enumerate(le for m in course.modules for le in m.lessons)]


def question(prompt: str, lesson: int, page: int, options=("ATP", "DNA", "RNA", "NADPH"), correct: int = 0) -> dict:
    return {"prompt": prompt, "options": list(options), "correct_index": correct,
            "explanation": "The lesson says so.", "lesson_number": lesson, "page": page}


def quiz(*questions: dict) -> str:
    return json.dumps({"questions": list(questions)})


def test_invalid_json_then_valid_json_gives_the_models_questions(api, lessons):
    api.reply = ["Here you go: {questions: [...]}", quiz(
        question("What do the light-dependent reactions store energy in?", 1, 1, correct=3),
        question("Where does glycolysis happen?", 2, 2, ("Cytoplasm", "Nucleus", "Stroma", "Ribosome")),
        question("Who bred pea plants?", 3, 3, ("Darwin", "Mendel", "Watson", "Crick"), correct=1))]
    drafts = generator(api).quiz_questions(lessons, 3, "medium", random.Random(5))
    assert [d.prompt for d in drafts] == ["What do the light-dependent reactions store energy in?",
                                          "Where does glycolysis happen?", "Who bred pea plants?"]
    assert [d.options[d.correct_index] for d in drafts] == ["NADPH", "Cytoplasm", "Mendel"]
    assert [(d.lesson_id, d.page) for d in drafts] == [("l0", 1), ("l1", 2), ("l2", 3)]
    assert drafts[2].explanation == "The lesson says so. (biology.pdf, page 3)"
    assert len(api.requests) == 2 and api.bodies[0]["temperature"] == 0.7
    assert "Lesson 3: Genetics (biology.pdf, page 3)" in api.bodies[0]["messages"][1]["content"]


def test_invalid_questions_are_dropped_and_asked_for_again(api, lessons):
    good = question("Which pigment absorbs red and blue light?", 1, 1, ("Chlorophyll", "Keratin", "Melanin", "Heme"))
    api.reply = [quiz(good,
                      question("Same options twice?", 1, 1, ("ATP", "ATP", "DNA", "RNA")),
                      question("Page outside the lesson?", 1, 2),
                      question("No such lesson?", 9, 1),
                      question("Answer out of range?", 2, 2, correct=4)),
                 quiz(good, question("What does yeast ferment glucose into?", 2, 2,
                                     ("Ethanol", "Lactose", "Starch", "Oxygen")))]
    drafts = generator(api).quiz_questions(lessons[:2], 2, "easy", random.Random(1))
    assert [d.prompt for d in drafts] == ["Which pigment absorbs red and blue light?",
                                          "What does yeast ferment glucose into?"]
    second = api.bodies[1]["messages"][-1]["content"]
    assert second.startswith("Write 1 question.") and "Which pigment absorbs red and blue light?" in second


def test_persistent_invalid_output_falls_back_to_extractive_questions(api, lessons):
    api.reply = "I would rather not answer in JSON."
    drafts = generator(api).quiz_questions(lessons, 3, "easy", random.Random(2))
    assert len(drafts) == 3 and all(d.kind in KINDS for d in drafts)  # the extractive kinds, not a model's
    assert len(api.requests) == 3  # the client's corrections; no second round after a failure
    with pytest.raises(ModelUnavailable):
        generator(api, fallback=False).quiz_questions(lessons, 3, "easy", random.Random(2))


def test_a_lesson_excerpt_labels_its_pages():
    content = "Glycolysis splits glucose in the cytoplasm.\n\nThe Krebs cycle runs in the mitochondria."
    lesson = QuizLesson("l0", "Respiration", content, [], "biology.pdf", 3, 4,
                        page_marks=((0, 3), (content.index("The Krebs"), 4)))
    assert quiz_excerpt(lesson, 1000, 0.0) == ("(page 3) Glycolysis splits glucose in the cytoplasm.\n\n"
                                               "(page 4) The Krebs cycle runs in the mitochondria.")
    assert quiz_excerpt(replace(lesson, page_marks=()), 1000, 0.0) == content


def test_the_seed_chooses_the_lessons_in_the_prompt(api, lessons):
    api.reply = quiz()  # no questions: the extractive top-up answers
    for seed in range(8):
        generator(api).quiz_questions(lessons, 1, "medium", random.Random(seed))
    chosen = {re.search(r"Lesson 1: (\w+)", body["messages"][1]["content"]).group(1) for body in api.bodies}
    assert len(chosen) > 1


# --- courses --------------------------------------------------------------------------------


def lesson_reply(fail_on: str | None = None):
    """Writes each lesson from its <source>: the text marked as rewritten, one invented key term."""

    def reply(body: dict) -> str:
        prompt = next(m["content"] for m in body["messages"] if "<source>" in m["content"])
        source = re.search(r"<source>\n(.*)\n</source>", prompt, re.DOTALL).group(1)
        if fail_on and fail_on in source:
            return "Sorry, I cannot help with that."
        first = source.split(". ")[0] + "."
        terms = list(re.findall(r"[A-Za-z]{6,}", source))[:3]
        return json.dumps({"content": "Rewritten. " + source, "summary": first,
                           "key_terms": [*terms, "quantum entanglement", terms[0].upper()]})

    return reply


def test_the_model_writes_lessons_on_the_extractive_structure(api, bio_doc):
    api.reply = lesson_reply()
    extractive = ExtractiveGenerator().build_course("Biology", [bio_doc])
    steps = []
    course = generator(api).build_course("Biology", [bio_doc], lambda f, m: steps.append(f))
    pairs = [(a, b) for ma, mb in zip(extractive.modules, course.modules) for a, b in zip(ma.lessons, mb.lessons)]
    assert len(pairs) == 3 and len(api.requests) == 3
    for before, after in pairs:
        assert after.content == "Rewritten. " + before.content
        assert before.page_marks and after.page_marks == []  # offsets of the source, not of the new text
        assert (after.title, after.source_file, after.page_start, after.page_end) == (
            before.title, before.source_file, before.page_start, before.page_end)
        assert len(after.key_terms) == 3 and "quantum entanglement" not in after.key_terms
        assert all(t.lower() in before.content.lower() for t in after.key_terms)
        assert after.summary == before.content.split(". ")[0] + "."
    assert steps == sorted(steps) and steps[-1] == 1.0
    assert "ONLY the source text" in api.bodies[0]["messages"][1]["content"]


def test_a_lesson_the_model_fails_on_stays_extractive(api, bio_doc):
    api.reply = lesson_reply(fail_on="Mendel")
    extractive = ExtractiveGenerator().build_course("Biology", [bio_doc])
    course = generator(api).build_course("Biology", [bio_doc])
    photo, respiration, genetics = (m.lessons[0] for m in course.modules)
    assert genetics == extractive.modules[2].lessons[0]
    assert photo.content.startswith("Rewritten.") and respiration.content.startswith("Rewritten.")
    assert len(api.requests) == 3 + 2  # the genetics lesson was corrected twice, then given up


def test_a_model_that_is_down_is_not_called_for_every_lesson(tmp_path):
    doc = read_pdf(make_pdf(tmp_path / "biology.pdf", repeat=3), "biology.pdf")
    with FakeOpenAI(api_key="sk-other") as api:
        course = generator(api, workers=1).build_course("Biology", [doc])
        assert len(api.requests) == 3
        with pytest.raises(ModelUnavailable, match="invalid API key"):
            generator(api, fallback=False).build_course("Biology", [doc])
    assert course == ExtractiveGenerator().build_course("Biology", [doc])


def test_written_text_that_strays_from_the_source_is_not_used():
    source = "Chlorophyll absorbs red and blue light. It reflects green light, which is why leaves look green."
    lesson = LessonDraft("Light", source, "Chlorophyll absorbs light.", ["chlorophyll"], "b.pdf", 4, 5,
                         [(0, 4), (source.index("It reflects"), 5)])
    invented = LessonText(content="Quantum dots emit photons when electrons tunnel through potential barriers in "
                                  "semiconductor crystals.", summary="Quantum dots emit photons.",
                          key_terms=["Green light", "quantum dots"])
    checked = checked_lesson(lesson, invented, source)
    assert (checked.content, checked.summary, checked.key_terms) == (source, lesson.summary, ["Green light"])
    assert checked.page_marks == lesson.page_marks  # still the source text, so still its pages
    assert grounded_terms(["light", "LIGHT", "ligh", " blue   light "], source) == ["light", "blue light"]


def test_wiring_builds_it_from_settings_and_fails_fast_without_a_model(tmp_path, api):
    gen = build_generator(make_settings(tmp_path, GENERATOR="openai", LLM_BASE_URL=api.url, LLM_MODEL="m"))
    assert isinstance(gen, LLMGenerator) and gen.name == "openai:m" and gen.fallback is not None
    with pytest.raises(ValueError, match="LLM_MODEL"):
        build_generator(make_settings(tmp_path, GENERATOR="openai", LLM_BASE_URL=api.url))

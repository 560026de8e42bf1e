"""Wrong options ranked by meaning with the real all-MiniLM-L6-v2 embedder, over R-intro's course:
nearer to the answer than other key terms of its kind, nearest for "hard", never a synonym."""

import random
from statistics import mean

import numpy as np
import pytest
from test_quiz import R_INTRO, assert_course_terms_of_a_kind, assert_well_formed, lessons_of

from profai.ingest.pdf import read_pdf
from profai.providers.generator import ExtractiveGenerator
from profai.providers.generator.quiz import DIFFICULTIES, make_questions
from profai.providers.generator.quiz_neighbours import NEAR_DUPLICATE, term_vectors
from profai.providers.generator.quiz_terms import CourseText, term_kind


@pytest.fixture(scope="module")
def r_doc():
    return read_pdf(R_INTRO, "R-intro.pdf")


@pytest.fixture(scope="module")
def r_lessons(r_doc):
    return lessons_of(r_doc)


@pytest.fixture(scope="module")
def quizzes(r_lessons, minilm):
    """Three 30-question quizzes per difficulty, wrong options ranked by meaning."""
    return {d: [q for seed in range(3) for q in make_questions(r_lessons, 30, d, random.Random(seed), minilm.embed)]
            for d in DIFFICULTIES}


def cosines(minilm, pairs):
    texts = sorted({t for pair in pairs for t in pair})
    vectors = dict(zip(texts, np.asarray(minilm.embed(texts))))
    return [float(vectors[a] @ vectors[b]) for a, b in pairs]


def test_wrong_options_are_neighbours_of_the_answer(quizzes, r_lessons, r_doc, minilm):
    every = [q for qs in quizzes.values() for q in qs]
    assert_well_formed(every, r_lessons, r_doc)
    assert_course_terms_of_a_kind(every, r_lessons)
    # The baseline: for each wrong option, a random key term of the answer's kind.
    text = CourseText("\n\n".join(lesson.content for lesson in r_lessons))
    by_kind: dict[str, list[str]] = {}
    for term in sorted({" ".join(t.split()) for lesson in r_lessons for t in lesson.key_terms}):
        by_kind.setdefault(term_kind(term, text), []).append(term)
    rng = random.Random(0)
    nearness = {}
    for difficulty, questions in quizzes.items():
        pairs = [(q.option_terms[q.correct_index], t) for q in questions
                 for i, t in enumerate(q.option_terms) if i != q.correct_index]
        randoms = [(a, rng.choice(by_kind[term_kind(a, text)])) for a, _ in pairs]
        nearness[difficulty] = mean(cosines(minilm, pairs)), mean(cosines(minilm, randoms))
    for difficulty, (chosen, random_term) in nearness.items():
        assert chosen > random_term + 0.05, (difficulty, nearness)
    # "hard" takes the nearest, "easy" ones still of the course and of the kind but less near.
    assert nearness["hard"][0] > nearness["medium"][0] > nearness["easy"][0], nearness


def test_no_wrong_option_means_the_same_as_the_answer(quizzes, minilm):
    pairs = [(q.option_terms[q.correct_index], t) for qs in quizzes.values() for q in qs if q.kind != "definition"
             for i, t in enumerate(q.option_terms) if i != q.correct_index]
    assert max(cosines(minilm, pairs)) <= NEAR_DUPLICATE + 0.01  # a batch embeds a text a hair differently
    for answer, other in pairs:
        assert answer.split()[-1].lower().rstrip("s") != other.split()[-1].lower().rstrip("s"), (answer, other)


def test_the_seed_decides_the_quiz_with_an_embedder(r_lessons, minilm, quizzes):
    again = make_questions(r_lessons, 30, "hard", random.Random(0), minilm.embed)
    assert again == quizzes["hard"][:30]
    assert make_questions(r_lessons, 30, "hard", random.Random(1), minilm.embed) != again
    # Ranked by meaning, the quiz differs from the one ranked by place in the course.
    assert make_questions(r_lessons, 30, "hard", random.Random(0)) != again


def test_terms_are_embedded_in_one_batch_per_course(r_lessons, minilm):
    calls: list[int] = []

    def embed(texts):
        calls.append(len(texts))
        return minilm.embed(texts)

    term_vectors.cache_clear()
    first = make_questions(r_lessons, 10, "medium", random.Random(2), embed)
    make_questions(r_lessons, 10, "easy", random.Random(3), embed)
    assert len(calls) == 1 and calls[0] > 200  # every key term fit for a quiz, once
    # Through the generator (as the quiz service calls it), the embedder is used the same.
    assert ExtractiveGenerator().quiz_questions(r_lessons, 10, "medium", random.Random(2), embed) == first
    assert len(calls) == 1
    assert make_questions(r_lessons, 10, "medium", random.Random(2)) != first  # without it: by place


def test_a_failing_embedder_costs_closeness_not_the_quiz(r_lessons, caplog):
    def unreachable(texts):
        raise ConnectionError("embedding service at 10.0.0.7 refused the connection")

    quiz = make_questions(r_lessons, 10, "medium", random.Random(4), unreachable)
    assert quiz == make_questions(r_lessons, 10, "medium", random.Random(4))
    assert "ConnectionError" in caplog.text and "10.0.0.7" not in caplog.text

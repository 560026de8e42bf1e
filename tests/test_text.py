"""Sentence splitting and word tokens."""

from profai.text import STOPWORDS, content_words, split_sentences, words


def test_splits_plain_sentences():
    assert split_sentences("Plants need light. They also need water! Do animals? Yes.") == [
        "Plants need light.",
        "They also need water!",
        "Do animals?",
        "Yes.",
    ]


def test_abbreviations_do_not_end_sentences():
    text = "Some leaves, e.g. Oak leaves, fall early. Dr. Smith agrees, i.e. Mendel was right. Next one."
    assert split_sentences(text) == [
        "Some leaves, e.g. Oak leaves, fall early.",
        "Dr. Smith agrees, i.e. Mendel was right.",
        "Next one.",
    ]


def test_decimals_and_initials_stay_inside():
    text = "The value is 3.14 today. J. R. R. Tolkien wrote it in the U.S. Army era. Done here."
    assert split_sentences(text) == [
        "The value is 3.14 today.",
        "J. R. R. Tolkien wrote it in the U.S. Army era.",
        "Done here.",
    ]


def test_paragraph_break_ends_a_sentence_and_whitespace_is_collapsed():
    assert split_sentences("A heading\n\nBody text  starts\nhere. More") == ["A heading", "Body text starts here.", "More"]


def test_closing_quotes_stay_with_their_sentence():
    assert split_sentences('He said "stop." Then he left.') == ['He said "stop."', "Then he left."]


def test_empty_text_has_no_sentences():
    assert split_sentences("  \n\n ") == []


def test_words_and_content_words():
    assert words("The light-dependent reactions, in 2 stages.") == ["the", "light-dependent", "reactions", "in", "2", "stages"]
    assert content_words("The light-dependent reactions of 2024 are in an ATP cycle.") == [
        "light-dependent",
        "reactions",
        "atp",
        "cycle",
    ]
    assert {"the", "and", "of"} <= STOPWORDS

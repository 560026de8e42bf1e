"""Which words can name a thing: LemmInflect's lexicon, loaded from the installed package."""

import pytest

from profai.lexicon import can_be_noun


@pytest.mark.parametrize("word", ["vector", "Assignment", "numbers", "sampling", "photosynthesis"])
def test_words_with_a_noun_reading_can_name_a_thing(word):
    assert can_be_noun(word)


@pytest.mark.parametrize("word", ["chlorophyll", "ATP", "tapply"])
def test_words_the_lexicon_does_not_know_may_be_terms(word):
    assert can_be_noun(word)


@pytest.mark.parametrize("word", ["consisting", "occurring", "quickly", "different", "hence"])
def test_verbs_adjectives_and_adverbs_alone_cannot(word):
    assert not can_be_noun(word)

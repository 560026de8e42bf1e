"""Which words can name a thing, from LemmInflect's English lexicon (MIT; its data ships in the
package, nothing is downloaded)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=100_000)
def can_be_noun(word: str) -> bool:
    """False only for a word the lexicon knows and never as a noun ("consisting", "quickly",
    "different"); a word it does not know may be one, as most technical terms are ("chlorophyll")."""
    from lemminflect import getAllLemmas  # loads its tables (~0.25 s, ~30 MB) on first use

    lemmas = getAllLemmas(word.lower())
    return not lemmas or "NOUN" in lemmas or "PROPN" in lemmas

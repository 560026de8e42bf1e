"""Shared text utilities: sentence splitting, word tokens and stop words (stdlib only)."""

from __future__ import annotations

import re

# Letters and digits, with inner apostrophes or hyphens kept ("light-dependent", "don't").
WORD_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "almost", "also", "although", "always", "am", "among", "an", "and", "another", "any", "anyone", "anything", "are", "around", "as", "at", "be", "became", "because", "become", "becomes", "been", "before", "being", "below", "between", "both", "but", "by", "can", "cannot", "could", "did", "do", "does", "doing", "done", "down", "during", "each", "either", "else", "enough", "etc", "even", "ever", "every", "few", "for", "from", "further", "get", "gets", "given", "gives", "go", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "however", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "less", "let", "like", "made", "make", "makes", "many", "may", "me", "might", "more", "most", "much", "must", "my", "myself", "near", "need", "needs", "no", "nor", "not", "now", "of", "off", "often", "on", "once", "one", "only", "onto", "or", "other", "others", "otherwise", "our", "ours", "ourselves", "out", "over", "own", "per", "perhaps", "rather", "same", "see", "seen", "several", "shall", "she", "should", "since", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "therefore", "these", "they", "this", "those", "though", "through", "thus", "to", "together", "too", "toward", "towards", "under", "until", "up", "upon", "us", "use", "used", "uses", "using", "very", "via", "was", "we", "well", "were", "what", "whatever", "when", "where", "whether", "which", "while", "who", "whom", "whose", "why", "will", "with", "within", "without", "would", "yet", "you", "your", "yours", "yourself", "yourselves", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "first", "second", "third", "called", "known", "include", "includes", "including", "example", "examples", "following", "different", "various", "new", "http", "https", "www", "com", "org"]
)

# Tokens before a period that never end a sentence, whatever follows.
_NEVER_END = frozenset(
    ["e.g", "i.e", "cf", "vs", "viz", "al", "approx", "ca", "dr", "mr", "mrs", "ms", "prof", "sr", "jr", "st", "fig", "figs", "eq", "eqs", "no", "nos", "vol", "pp", "resp", "sec", "ch", "incl", "dept", "univ", "est"]
)

# Candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace,
# then something that can start a sentence.
_BOUNDARY_RE = re.compile(r"([.!?…]+)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")
_PARAGRAPH_RE = re.compile(r"\n\s*\n")
_LAST_TOKEN_RE = re.compile(r"(\S+)$")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences; paragraph breaks always end a sentence."""
    sentences: list[str] = []
    for paragraph in _PARAGRAPH_RE.split(text):
        paragraph = " ".join(paragraph.split())
        if paragraph:
            sentences.extend(_split_paragraph(paragraph))
    return sentences


def _split_paragraph(paragraph: str) -> list[str]:
    out: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(paragraph):
        if match.group(1) == "." and not _period_ends_sentence(paragraph[start : match.start(1)]):
            continue
        end = match.end(2)
        piece = paragraph[start:end].strip()
        if piece:
            out.append(piece)
        start = match.end(3)
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return out


def _period_ends_sentence(before: str) -> bool:
    """Decide whether a single period after `before` closes a sentence."""
    found = _LAST_TOKEN_RE.search(before)
    if not found:
        return False
    token = found.group(1).lstrip("\"'“‘([").lower()
    if token in _NEVER_END:
        return False
    # Initials ("J. Smith") and single letters of abbreviations ("U.S.") are not endings.
    if len(token) == 1 and token.isalpha():
        return False
    return not re.fullmatch(r"(?:[a-z]\.)+[a-z]", token)


def words(text: str) -> list[str]:
    """Lowercase word tokens of `text`."""
    return [m.group().lower() for m in WORD_RE.finditer(text)]


def is_content_word(word: str) -> bool:
    """True for a lowercase token worth indexing: not a stop word, not a number, 3+ chars."""
    return len(word) >= 3 and word not in STOPWORDS and not word.replace("-", "").isdigit() and any(
        ch.isalpha() for ch in word
    )


def content_words(text: str) -> list[str]:
    """Lowercase word tokens without stop words, numbers or very short words."""
    return [w for w in words(text) if is_content_word(w)]


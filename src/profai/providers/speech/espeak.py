"""eSpeak NG, the default offline backend: the `espeak-ng` executable, one process per piece of text."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from typing import Any

from profai.errors import InvalidInput, ServiceUnavailable
from profai.providers.speech.base import Audio, Pcm, Voice, join_wav, read_wav, split_for_speech

_INSTALL_HINT = "install it with `apt-get install espeak-ng` (or `make system-deps`)"
# Voices chosen for a bare language where eSpeak's own priority picks otherwise (en -> en-gb).
_PREFERRED = {"en": "en-us"}
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_OTHER_LANGUAGES_RE = re.compile(r"\(([^\s()]+)\s+(\d+)\)")
_GENDERS = {"M": "male", "F": "female"}
# A NUL ends eSpeak's input early; other control characters are noise. Newlines and tabs stay.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _Catalogue:
    """What `espeak-ng --voices` lists, indexed for lookups."""

    def __init__(self, voices: list[Voice], aliases: dict[str, str], variants: dict[str, str]):
        self.voices = voices
        self.ids = {v.id for v in voices}
        self.aliases = aliases  # other language code -> best voice id serving it
        self.variants = variants  # lower-case variant name -> file name (-v en-us+<name>)


class EspeakSpeech:
    """Speech via the espeak-ng executable: WAV output, text on stdin, long text in pieces."""

    name = "espeak-ng"

    def __init__(
        self, rate_wpm: int = 165, default_voice: str | None = None, *, piece_chars: int = 1500,
        timeout: float = 60.0, executable: str = "espeak-ng",
    ) -> None:
        self.rate_wpm = rate_wpm
        self.default_voice = default_voice
        # Each piece is one process with its own timeout; 1,500 chars is ~100 s of audio, ~0.3 s to make.
        self.piece_chars = piece_chars
        self.timeout = timeout
        self.executable = executable
        self._catalogues: dict[str, _Catalogue] = {}  # by resolved executable path
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Locks do not pickle; a copy in a worker process re-reads the voice list on first use.
        return {k: getattr(self, k) for k in ("rate_wpm", "default_voice", "piece_chars", "timeout", "executable")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state)

    def synthesize(self, text: str, language: str, voice: str | None) -> Audio:
        """Speak `text` as one WAV; pieces are cut at sentence ends so the joins fall in natural pauses."""
        voice_id = self.resolve_voice(language, voice)
        pieces = split_for_speech(_CONTROL_RE.sub(" ", text), self.piece_chars)
        made = (self._run(piece, voice_id) for piece in pieces)
        return join_wav([pcm for pcm in made if pcm is not None])

    def voices(self) -> list[Voice]:
        """The installed eSpeak NG voices (variants such as `+f3` can be added to any of them)."""
        return list(self._catalogue().voices)

    def resolve_voice(self, language: str, voice: str | None) -> str:
        """The `-v` argument for this request, checked against the installed voices."""
        cat = self._catalogue()
        chosen = voice or self.default_voice
        if chosen:
            return self._check_voice(cat, chosen)
        code = (language or "").strip().lower().replace("_", "-")
        if _LANGUAGE_RE.fullmatch(code):
            # "en-in" falls back to "en" when eSpeak has no voice for the region.
            for candidate in dict.fromkeys([code, code.split("-")[0]]):
                preferred = _PREFERRED.get(candidate)
                if preferred in cat.ids:
                    return preferred
                if candidate in cat.ids:
                    return candidate
                if candidate in cat.aliases:
                    return cat.aliases[candidate]
        raise InvalidInput(f"No eSpeak NG voice for language {language!r}", code="unknown_voice")

    def _check_voice(self, cat: _Catalogue, voice: str) -> str:
        base, plus, variant = voice.strip().lower().partition("+")
        if base in cat.ids and (not plus or variant in cat.variants):
            return f"{base}+{cat.variants[variant]}" if plus else base
        raise InvalidInput(f"Unknown eSpeak NG voice {voice!r}", code="unknown_voice")

    def _exe(self) -> str:
        # Looked up on every call: installing espeak-ng fixes a running server without a restart.
        path = shutil.which(self.executable)
        if path is None:
            raise ServiceUnavailable(f"Speech is unavailable: {self.executable} is not installed; {_INSTALL_HINT}",
                                     code="speech_unavailable")
        return path

    def _catalogue(self) -> _Catalogue:
        exe = self._exe()
        with self._lock:
            if exe not in self._catalogues:
                self._catalogues[exe] = _parse_catalogue(
                    self._call([exe, "--voices"]).decode(errors="replace"),
                    self._call([exe, "--voices=variant"]).decode(errors="replace"),
                )
            return self._catalogues[exe]

    def _run(self, text: str, voice_id: str) -> Pcm | None:
        # Text goes on stdin, never argv: a leading "-" or shell characters are just words to read.
        args = [self._exe(), "--stdin", "--stdout", "-b", "1", "-v", voice_id, "-s", str(self.rate_wpm)]
        out = self._call(args, text.encode())
        if not out:  # nothing speakable (only punctuation): eSpeak writes no header at all
            return None
        try:
            return read_wav(out)
        except ValueError as exc:
            raise ServiceUnavailable(f"espeak-ng returned unreadable audio: {exc}", code="speech_failed") from None

    def _call(self, args: list[str], stdin: bytes = b"") -> bytes:
        try:
            done = subprocess.run(args, input=stdin, capture_output=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise ServiceUnavailable(f"Speech is unavailable: {args[0]} vanished; {_INSTALL_HINT}",
                                     code="speech_unavailable") from None
        except subprocess.TimeoutExpired:
            raise ServiceUnavailable(f"espeak-ng took longer than {self.timeout:g} s", code="speech_timeout") from None
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()[:200]
            raise ServiceUnavailable(f"espeak-ng failed (exit {done.returncode}): {detail}", code="speech_failed")
        return done.stdout


def _parse_catalogue(listing: str, variant_listing: str) -> _Catalogue:
    """Read `espeak-ng --voices` and `--voices=variant` (columns: Pty Language Age/Gender Name File Other)."""
    voices: list[Voice] = []
    ranked: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 5:
            continue
        lang = cols[1].lower()
        gender = _GENDERS.get(cols[2].rpartition("/")[2])
        voices.append(Voice(id=lang, language=lang, name=cols[3].replace("_", " "), gender=gender))
        for other, priority in _OTHER_LANGUAGES_RE.findall(" ".join(cols[5:])):
            best = ranked.get(other.lower())
            if best is None or int(priority) < best[0]:
                ranked[other.lower()] = (int(priority), lang)
    variants = {}
    for line in variant_listing.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5 and cols[4].startswith("!v/"):
            variants[cols[4][3:].lower()] = cols[4][3:]
    return _Catalogue(voices, {code: lang for code, (_, lang) in ranked.items()}, variants)

"""The audio cache: synthesise once, atomic files, validated text; real espeak-ng underneath."""

from __future__ import annotations

import io
import os
import threading
import time
import wave
from pathlib import Path

import pytest

from profai.errors import InvalidInput, ServiceUnavailable
from profai.providers.speech import Audio, EspeakSpeech
from profai.services.audio import speak
from profai.stores.audio_cache import AudioCache

TEXT = "Mitochondria release energy from food. Every cell in the body depends on them."


class CountingSpeech:
    """Real eSpeak NG that counts synthesis calls and can be slowed to widen race windows."""

    def __init__(self, delay: float = 0.0, fail: bool = False, rate_wpm: int = 165):
        self.inner = EspeakSpeech(rate_wpm=rate_wpm)
        self.name, self.rate_wpm = self.inner.name, rate_wpm
        self.delay, self.fail, self.calls = delay, fail, 0
        self._lock = threading.Lock()

    def synthesize(self, text: str, language: str, voice: str | None) -> Audio:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise ServiceUnavailable("espeak broke", code="speech_failed")
        return self.inner.synthesize(text, language, voice)

    def voices(self):
        return self.inner.voices()

    def resolve_voice(self, language: str, voice: str | None) -> str:
        return self.inner.resolve_voice(language, voice)


def _frames(path: Path) -> int:
    with wave.open(io.BytesIO(path.read_bytes())) as w:
        return w.getnframes()


def _leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith(".tmp")]


def test_second_call_does_not_resynthesise(tmp_path):
    speech = CountingSpeech()
    cache = AudioCache(speech, tmp_path / "audio")
    first = cache.get_or_create(TEXT, "en", None)
    mtime = first.path.stat().st_mtime_ns
    second = cache.get_or_create(TEXT, "en", None)
    # voice None resolves to en-us, so naming it explicitly hits the same entry.
    third = cache.get_or_create(TEXT, "en", "en-us")
    assert speech.calls == 1
    assert first == second == third and first.path.stat().st_mtime_ns == mtime
    assert first.media_type == "audio/wav" and first.seconds > 3
    assert first.path.is_relative_to(tmp_path / "audio") and first.path.suffix == ".wav"
    assert _frames(first.path) / 22050 == pytest.approx(first.seconds)
    # A new cache on the same directory (a restarted server) finds the file too.
    assert AudioCache(speech, tmp_path / "audio").get_or_create(TEXT, "en", None) == first
    assert speech.calls == 1


def test_every_input_of_the_key_matters(tmp_path):
    speech = CountingSpeech()
    cache = AudioCache(speech, tmp_path)
    paths = {
        cache.get_or_create(TEXT, "en", None).path,
        cache.get_or_create(TEXT + " Really.", "en", None).path,
        cache.get_or_create(TEXT, "en", "en-gb").path,
        cache.get_or_create(TEXT, "en-GB", None).path,
        AudioCache(CountingSpeech(rate_wpm=200), tmp_path).get_or_create(TEXT, "en", None).path,
    }
    assert len(paths) == 5


def test_concurrent_requests_make_one_complete_file(tmp_path):
    speech = CountingSpeech(delay=0.3)
    cache = AudioCache(speech, tmp_path)
    barrier, results, errors = threading.Barrier(8), [], []

    def ask():
        barrier.wait()
        try:
            results.append(cache.get_or_create(TEXT * 3, "en", None))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and speech.calls == 1 and len(set(results)) == 1
    path = results[0].path
    assert _frames(path) / 22050 == pytest.approx(results[0].seconds)
    assert sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file()) == [".json", ".wav"]


def test_two_processes_racing_never_expose_half_a_file(tmp_path):
    # Two caches share a directory but not their locks, as two server processes would.
    speeches = [CountingSpeech(delay=0.2), CountingSpeech(delay=0.2)]
    caches = [AudioCache(s, tmp_path) for s in speeches]
    seen: list[int] = []
    stop = threading.Event()

    def watch():
        # Whatever file a reader finds under its final name is a whole WAV.
        while not stop.is_set():
            for wav in tmp_path.rglob("*.wav"):
                seen.append(_frames(wav))

    watcher = threading.Thread(target=watch)
    watcher.start()
    racers = [threading.Thread(target=c.get_or_create, args=(TEXT * 4, "en", None)) for c in caches]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    stop.set()
    watcher.join()
    assert seen and len(set(seen)) == 1
    assert not _leftovers(tmp_path)


def test_failed_synthesis_leaves_nothing(tmp_path):
    cache = AudioCache(CountingSpeech(fail=True), tmp_path)
    with pytest.raises(ServiceUnavailable):
        cache.get_or_create(TEXT, "en", None)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_deleted_audio_is_made_again(tmp_path):
    speech = CountingSpeech()
    cache = AudioCache(speech, tmp_path)
    first = cache.get_or_create(TEXT, "en", None)
    first.path.unlink()
    assert cache.get_or_create(TEXT, "en", None).path.exists() and speech.calls == 2


def test_speak_validates_text(tmp_path):
    speech = CountingSpeech()
    cache = AudioCache(speech, tmp_path)
    for blank in ("", "   ", "\n\t \n"):
        with pytest.raises(InvalidInput) as err:
            speak(cache, blank, "en", max_chars=100)
        assert err.value.code == "empty_text" and err.value.status_code == 422
    with pytest.raises(InvalidInput) as err:
        speak(cache, "a" * 101, "en", max_chars=100)
    assert err.value.code == "text_too_long" and err.value.status_code == 422
    with pytest.raises(InvalidInput) as err:
        speak(cache, "Hello.", "xx", max_chars=100)
    assert err.value.code == "unknown_voice"
    assert speech.calls == 0
    # Surrounding whitespace neither counts against the limit nor makes a separate entry.
    spoken = speak(cache, "  " + "Hello world. " * 7 + "  ", "en", max_chars=91)
    assert spoken == speak(cache, "Hello world. " * 7, "en", max_chars=91) and speech.calls == 1


def test_answers_are_read_without_their_citation_markers():
    from profai.services.audio import spoken_text

    assert spoken_text("Chlorophyll absorbs red light [1]. It reflects green [1, 3].") == \
        "Chlorophyll absorbs red light. It reflects green."


def _age(cache: AudioCache, text: str, seconds: float) -> None:
    """Mark an entry as last used `seconds` ago."""
    record = cache.get_or_create(text, "en", None).path.with_suffix(".json")
    then = time.time() - seconds
    os.utime(record, (then, then))


def test_least_recently_used_audio_goes_when_the_cache_is_full(tmp_path):
    speech = CountingSpeech()
    texts = [f"Lesson {n}. " + TEXT for n in range(4)]
    unbounded = AudioCache(speech, tmp_path)
    sizes = [unbounded.get_or_create(t, "en", None).path.stat().st_size for t in texts]
    for age, text in zip((4000, 1000, 3000, 2000), texts):  # used in the order 0, 2, 3, 1
        _age(unbounded, text, age)

    # Room for about two entries: the two used longest ago (0, then 2) go, record and audio.
    cache = AudioCache(speech, tmp_path, max_bytes=sizes[1] + sizes[3] + 2000)
    cache.evict()
    kept = {p.stem for p in tmp_path.rglob("*") if p.is_file()}
    assert kept == {cache.key(t, "en", "en-us") for t in (texts[1], texts[3])}
    assert sorted(p.suffix for p in tmp_path.rglob("*") if p.is_file()) == [".json", ".json", ".wav", ".wav"]
    # An evicted lesson is simply made again.
    calls = speech.calls
    assert cache.get_or_create(texts[0], "en", None).path.exists() and speech.calls == calls + 1


def test_audio_in_use_is_kept_over_the_budget(tmp_path):
    speech = CountingSpeech()
    cache = AudioCache(speech, tmp_path, max_bytes=1)
    old, new = ("An old lesson. " + TEXT), ("A new lesson. " + TEXT)
    cache.get_or_create(old, "en", None)
    _age(cache, old, 600)
    fresh = cache.get_or_create(new, "en", None)  # writing it evicts the old one, never itself
    assert fresh.path.exists() and [p.stem for p in tmp_path.rglob("*.wav")] == [fresh.path.stem]
    # A hit marks the entry used, so what students are listening to stays.
    record = fresh.path.with_suffix(".json")
    os.utime(record, (0, 0))
    cache.get_or_create(new, "en", None)
    assert record.stat().st_mtime > time.time() - 60

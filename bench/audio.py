"""Lesson audio with eSpeak NG on real text (R-intro.pdf): audio seconds made per compute second,
latency of ~300-char pieces (what streaming an answer as audio waits for), cache hits, peak RSS.
Goal: realtime factor above 10 and a ~300-char piece under 0.5 s at p95 on 2 cores."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import R_MANUALS, PeakRss, percentile, save, tree_rss_mb  # noqa: E402

from profai.ingest.pdf import read_pdf  # noqa: E402
from profai.providers.speech import EspeakSpeech, split_for_speech  # noqa: E402
from profai.settings import Settings  # noqa: E402
from profai.stores.audio_cache import AudioCache  # noqa: E402

LESSONS = 12
CHUNKS = 80


def lessons(pdf: Path, max_chars: int, count: int) -> list[str]:
    """Consecutive pages joined and cut into lesson texts of at most `max_chars` (TTS_MAX_CHARS)."""
    doc = read_pdf(pdf, pdf.name)
    text = "\n\n".join(page.text for page in doc.pages[6:])  # past the title and contents pages
    return split_for_speech(text, max_chars)[:count]


def main(pdf: Path = R_MANUALS / "R-intro.pdf") -> None:
    settings = Settings(_env_file=None)
    speech = EspeakSpeech(rate_wpm=settings.speech_rate_wpm)
    texts = lessons(pdf, settings.tts_max_chars, LESSONS)
    chunks = [c for t in texts for c in split_for_speech(t, 300)][:CHUNKS]
    speech.synthesize("Warm up.", "en", None)  # the voice list is read once per process
    baseline_mb = tree_rss_mb(os.getpid())
    load_before = os.getloadavg()[0]  # other work on the machine slows every figure here

    with PeakRss() as rss:
        # Only durations are kept: a server streams each lesson out and lets it go.
        lesson_latencies, audio_seconds = [], 0.0
        for t in texts:
            t0 = time.perf_counter()
            audio_seconds += speech.synthesize(t, "en", None).seconds
            lesson_latencies.append(time.perf_counter() - t0)
        compute = sum(lesson_latencies)

        latencies, chunk_audio = [], []
        for chunk in chunks:
            t0 = time.perf_counter()
            chunk_audio.append(speech.synthesize(chunk, "en", None).seconds)
            latencies.append(time.perf_counter() - t0)

        # Two lessons at once, one per core: what two simultaneous listeners cost.
        with ThreadPoolExecutor(2) as pool:
            t0 = time.perf_counter()
            parallel_audio = sum(pool.map(lambda t: speech.synthesize(t, "en", None).seconds, texts))
            parallel_compute = time.perf_counter() - t0

        with tempfile.TemporaryDirectory() as tmp:
            cache = AudioCache(speech, Path(tmp) / "audio")
            t0 = time.perf_counter()
            cache.get_or_create(texts[0], "en", None)
            miss = time.perf_counter() - t0
            hits = []
            for _ in range(50):
                t0 = time.perf_counter()
                cache.get_or_create(texts[0], "en", None)
                hits.append(time.perf_counter() - t0)

    rtf = audio_seconds / compute
    p95 = percentile(latencies, 95)
    save("audio", {
        "load_average_1m": round(load_before, 2), "document": pdf.name, "backend": speech.name, "rate_wpm": speech.rate_wpm,
        "lessons": len(texts), "lesson_chars_mean": round(statistics.mean(len(t) for t in texts)),
        "audio_seconds": round(audio_seconds, 1), "compute_seconds": round(compute, 2),
        "realtime_factor": round(rtf, 1),
        "lesson_latency_ms": {"p50": round(percentile(lesson_latencies, 50) * 1000),
                              "max": round(max(lesson_latencies) * 1000)},
        "realtime_factor_2_parallel": round(parallel_audio / parallel_compute, 1),
        "chunks": len(chunks), "chunk_chars_mean": round(statistics.mean(len(c) for c in chunks)),
        "chunk_audio_seconds_mean": round(statistics.mean(chunk_audio), 1),
        "chunk_latency_ms": {"p50": round(percentile(latencies, 50) * 1000, 1), "p95": round(p95 * 1000, 1),
                             "max": round(max(latencies) * 1000, 1)},
        "cache_ms": {"miss": round(miss * 1000, 1), "hit_p50": round(percentile(hits, 50) * 1000, 2)},
        "rss_before_mb": round(baseline_mb), "peak_rss_mb": round(rss.peak_mb),
        "goal": "realtime factor above 10, ~300-char piece p95 under 500 ms",
        "goal_met": rtf > 10 and p95 < 0.5,
    })


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:]))

"""Speech backends: real espeak-ng, and the hosted backend against a local HTTP server."""

from __future__ import annotations

import io
import json
import pickle
import struct
import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from profai.errors import InvalidInput, ServiceUnavailable
from profai.providers.http_retry import ProviderError, ProviderUnavailable
from profai.providers.registry import build_speech
from profai.providers.speech import MP3, WAV, EspeakSpeech, HostedSpeech, split_for_speech
from profai.providers.speech.base import read_wav
from profai.providers.speech.hosted import mp3_seconds
from support import make_settings

SENTENCE = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen. "
HINDI = "प्रकाश संश्लेषण पौधों में होता है। पत्तियाँ सूर्य के प्रकाश से भोजन बनाती हैं।"


@pytest.fixture(scope="module")
def espeak() -> EspeakSpeech:
    return EspeakSpeech()


def _wav(data: bytes) -> wave.Wave_read:
    return wave.open(io.BytesIO(data))


def _lesson(chars: int) -> str:
    paragraphs, n = [], 0
    while n < chars:
        paragraph = " ".join(f"Step {n + i} of the method repeats the idea in other words." for i in range(6))
        paragraphs.append(paragraph)
        n += len(paragraph) + 2
    return "\n\n".join(paragraphs)


# --- eSpeak NG ---------------------------------------------------------------------------------

def test_wav_parses_with_a_correct_header(espeak):
    audio = espeak.synthesize(SENTENCE * 2, "en", None)
    assert audio.media_type == WAV
    w = _wav(audio.data)
    assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
    # The sizes in the header are real, not espeak's streaming placeholders.
    assert struct.unpack("<I", audio.data[4:8])[0] == len(audio.data) - 8
    assert len(w.readframes(w.getnframes())) == w.getnframes() * 2 == len(audio.data) - 44
    assert audio.seconds == pytest.approx(w.getnframes() / 22050)


def test_duration_is_proportional_to_text(espeak):
    short = espeak.synthesize(SENTENCE, "en", None).seconds
    long = espeak.synthesize(SENTENCE * 4, "en", None).seconds
    assert short > 2
    assert 3.2 < long / short < 4.8
    words = len(SENTENCE.split()) * 4
    # Near the configured 165 words per minute (pauses and long words make it slower).
    assert words / 165 * 60 * 0.7 < long < words / 165 * 60 * 1.6


def test_rate_setting_changes_duration():
    slow = EspeakSpeech(rate_wpm=120).synthesize(SENTENCE * 2, "en", None).seconds
    fast = EspeakSpeech(rate_wpm=240).synthesize(SENTENCE * 2, "en", None).seconds
    assert 1.5 < slow / fast < 2.5


def test_long_lesson_becomes_one_wav(espeak, monkeypatch):
    text = _lesson(3000)
    assert len(text) >= 3000 and text.count("\n\n") >= 3
    calls = []
    run = espeak._run
    monkeypatch.setattr(espeak, "_run", lambda piece, voice: calls.append(piece) or run(piece, voice))
    audio = espeak.synthesize(text, "en", None)
    assert len(calls) >= 2 and all(len(p) <= espeak.piece_chars for p in calls)
    assert audio.data.count(b"RIFF") == 1 and audio.data.count(b"WAVEfmt ") == 1
    w = _wav(audio.data)
    assert w.getnframes() / w.getframerate() == pytest.approx(audio.seconds)
    assert 150 < audio.seconds < 330
    # Joining pieces costs no speech: the same text in one process lasts as long, within 3 %.
    whole = EspeakSpeech(piece_chars=100_000).synthesize(text, "en", None)
    assert audio.seconds == pytest.approx(whole.seconds, rel=0.03)


@pytest.mark.parametrize(("language", "voice_id", "text"), [
    ("en", "en-us", SENTENCE), ("en-GB", "en-gb", SENTENCE), ("hi", "hi", HINDI), ("ta", "ta", "வணக்கம் உலகம்."),
])
def test_languages(espeak, language, voice_id, text):
    assert espeak.resolve_voice(language, None) == voice_id
    audio = espeak.synthesize(text, language, None)
    assert audio.seconds > 1
    assert _wav(audio.data).getnframes() > 0


def test_hindi_long_text_splits_at_danda(espeak):
    pieces = split_for_speech(HINDI * 40, 300)
    assert len(pieces) > 5 and all(len(p) <= 300 for p in pieces)
    assert all(p.endswith("।") for p in pieces)
    assert espeak.synthesize(HINDI * 10, "hi", None).seconds > 20


@pytest.mark.parametrize(("language", "voice"), [
    ("en", "xx-nope"), ("klingon", None), ("zz", None), ("", None), ("en", "en-us; rm -rf /"),
    ("en", "en-us+nosuchvariant"), ("en", "--help"),
])
def test_unknown_voice_or_language(espeak, language, voice):
    with pytest.raises(InvalidInput) as err:
        espeak.synthesize("Hello.", language, voice)
    assert err.value.code == "unknown_voice" and err.value.status_code == 422


def test_voices_and_variants(espeak):
    ids = {v.id for v in espeak.voices()}
    assert {"en-us", "en-gb", "hi", "ta"} <= ids
    assert espeak.resolve_voice("en", "EN-US+F3") == "en-us+f3"
    assert espeak.synthesize("Hello there.", "en", "en-us+f3").seconds > 0.5


def test_default_voice_setting_overrides_language():
    speech = EspeakSpeech(default_voice="en-gb")
    assert speech.resolve_voice("en", None) == "en-gb"
    assert speech.resolve_voice("en", "hi") == "hi"


def test_missing_executable_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServiceUnavailable) as err:
        EspeakSpeech().synthesize("Hello.", "en", None)
    assert err.value.code == "speech_unavailable" and err.value.status_code == 503
    assert "apt-get install espeak-ng" in err.value.message and "make system-deps" in err.value.message


def test_shell_characters_and_leading_dash_are_spoken(espeak, tmp_path):
    marker = tmp_path / "pwned"
    text = f'--help -v xx; touch {marker} && echo $(id) `id` | cat > {marker} "quoted" \'single\' & wait'
    audio = espeak.synthesize(text, "en", None)
    assert not marker.exists()
    # Read out as words, so it lasts about as long as the same words without the dash.
    plain = espeak.synthesize(text.lstrip("-"), "en", None)
    assert audio.seconds > 3 and audio.seconds == pytest.approx(plain.seconds, rel=0.15)
    assert espeak.synthesize("-", "en", None).media_type == WAV


def test_nul_does_not_cut_the_text(espeak):
    clean = espeak.synthesize(SENTENCE * 2, "en", None).seconds
    dirty = espeak.synthesize(SENTENCE + "\x00" + SENTENCE, "en", None).seconds
    assert dirty == pytest.approx(clean, rel=0.1)


def test_espeak_pickles(espeak):
    copy = pickle.loads(pickle.dumps(espeak))
    assert copy.resolve_voice("hi", None) == "hi"


def test_split_keeps_every_word_in_order():
    text = _lesson(2000) + " " + "x" * 700
    pieces = split_for_speech(text, 250)
    assert all(len(p) <= 250 for p in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())


def test_build_speech_from_settings(tmp_path):
    assert isinstance(build_speech(make_settings(tmp_path)), EspeakSpeech)
    hosted = build_speech(make_settings(tmp_path, SPEECH="openai", SPEECH_API_KEY="k", SPEECH_VOICE="nova"))
    assert isinstance(hosted, HostedSpeech) and hosted.base_url == "https://api.openai.com/v1"
    assert hosted.resolve_voice("en", None) == "nova"
    with pytest.raises(ValidationError):
        make_settings(tmp_path, SPEECH="festival")
    with pytest.raises(ValidationError):
        make_settings(tmp_path, SPEECH_RATE=10)
    with pytest.raises(ValidationError, match="SPEECH_API_KEY"):
        make_settings(tmp_path, SPEECH="openai", ENVIRONMENT="production")


# --- hosted, against a local server -------------------------------------------------------------

def _streamed_wav(seconds: float, rate: int = 24000) -> bytes:
    """A WAV as streaming servers send it: 0xFFFFFFFF where the sizes belong."""
    frames = struct.pack("<h", 1000) * int(seconds * rate)
    header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate,
                                                                                  rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", 0xFFFFFFFF) + frames


def _mp3(frames: int) -> bytes:
    """MPEG-1 layer III frames at 128 kbit/s, 44.1 kHz (silent payload): 417 bytes, 1152 samples each."""
    return (b"\xff\xfb\x90\x64" + bytes(413)) * frames


class _Server:
    def __init__(self) -> None:
        self.replies: list[tuple[int, bytes, dict[str, str]]] = []
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                status, data, headers = server.replies.pop(0) if server.replies else (200, _streamed_wav(1), {})
                self.send_response(status)
                for k, v in {"Content-Length": str(len(data)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_hosted_retries_a_500_then_succeeds(server):
    server.replies = [(500, b'{"error": {"message": "overloaded"}}', {"Retry-After": "0"}),
                      (200, _streamed_wav(1.5), {})]
    speech = HostedSpeech(server.url, "tts-1", "secret", timeout=5)
    audio = speech.synthesize("Hello there.", "en", "nova")
    assert audio.media_type == WAV and audio.seconds == pytest.approx(1.5)
    assert _wav(audio.data).getframerate() == 24000
    assert len(server.requests) == 2
    req = server.requests[-1]
    assert req == {"path": "/v1/audio/speech", "auth": "Bearer secret", "model": "tts-1", "input": "Hello there.",
                   "voice": "nova", "response_format": "wav"}


def test_hosted_joins_pieces_of_long_text(server):
    speech = HostedSpeech(server.url, max_input_chars=200, timeout=5)
    audio = speech.synthesize(_lesson(1000), "en", None)
    assert len(server.requests) >= 5 and all(len(r["input"]) <= 200 for r in server.requests)
    assert server.requests[0]["voice"] == "alloy"
    assert audio.data.count(b"RIFF") == 1 and audio.seconds == pytest.approx(len(server.requests))


def test_hosted_retries_a_garbled_200_and_gives_up_on_persistent_503(server):
    server.replies = [(200, b"<html>proxy error</html>", {}), (200, _streamed_wav(1), {})]
    assert HostedSpeech(server.url, timeout=5).synthesize("Hi.", "en", None).seconds == pytest.approx(1)
    server.requests.clear()
    server.replies = [(503, b"down", {"Retry-After": "0"})] * 3
    with pytest.raises(ProviderUnavailable) as err:
        HostedSpeech(server.url, timeout=5, max_attempts=3).synthesize("Hi.", "en", None)
    assert len(server.requests) == 3 and err.value.status_code == 503


def test_hosted_does_not_retry_a_rejection(server):
    server.replies = [(400, b'{"error": {"message": "input too long"}}', {})]
    with pytest.raises(ProviderError, match="input too long"):
        HostedSpeech(server.url, timeout=5).synthesize("Hi.", "en", None)
    assert len(server.requests) == 1


def test_hosted_unknown_voice_is_refused_locally(server):
    with pytest.raises(InvalidInput) as err:
        HostedSpeech(server.url).synthesize("Hi.", "en", "darth")
    assert err.value.code == "unknown_voice" and server.requests == []


def test_hosted_mp3_and_speed(server):
    server.replies = [(200, b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10) + _mp3(100), {})]
    audio = HostedSpeech(server.url, response_format="mp3", rate_wpm=198, timeout=5).synthesize("Hi.", "en", None)
    assert audio.media_type == MP3 and audio.seconds == pytest.approx(100 * 1152 / 44100)
    assert server.requests[0]["response_format"] == "mp3" and server.requests[0]["speed"] == 1.2


def test_read_wav_rejects_non_wav():
    with pytest.raises(ValueError):
        read_wav(b"<html></html>")
    assert mp3_seconds(b"<html></html>") == 0

"""Speech: the interface and its backends (eSpeak NG offline by default, an OpenAI-compatible API)."""

from profai.providers.speech.base import MP3, WAV, Audio, Speech, Voice, split_for_speech
from profai.providers.speech.espeak import EspeakSpeech
from profai.providers.speech.hosted import HostedSpeech

__all__ = ["MP3", "WAV", "Audio", "EspeakSpeech", "HostedSpeech", "Speech", "Voice", "split_for_speech"]

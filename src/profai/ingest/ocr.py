"""Read the text in an image of a page with Tesseract, the OCR engine Debian ships (tesseract-ocr).

Why Tesseract (5.3, Debian's `tesseract-ocr` + `tesseract-ocr-eng`) and not RapidOCR (PyPI
`rapidocr-onnxruntime`, which ships its ONNX models): on the test biology pages rendered at
300 DPI, on one core, Tesseract read a page in 1.35 s with every character right; RapidOCR took
3.3 s a page (7 s at 150 DPI) and got 78-100% (its models are trained for Chinese and merge
English words), and it brings OpenCV (85 MB). A dense page of R's manual, JPEG-degraded like a
scan, took Tesseract 1.45 s at 99.8%. Pages are rendered at 300 DPI: it costs 15-40% more time
than 200 DPI, the same accuracy on clean 7-11 pt text, and reads a poor scan (6 pt text scanned
at 100 DPI) at 90% against 83%.

The engine runs as a child process, so a page that takes too long is killed and nothing of it
stays in the reader. It gets one thread (the machine's cores serve other jobs), at most
MEMORY_BYTES, and CPU seconds for the page's allowance, after which the kernel stops it even if
the reader that started it was killed from outside.
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable

from PIL import Image

from profai.errors import ServiceUnavailable

DPI = 300
# A rendered page is at most this many pixels (an A3 page at 300 DPI is 17.4 M): a larger page is
# rendered at a lower resolution. Tesseract needs ~8 bytes a pixel, so ~160 MB, and ~3 s.
MAX_PIXELS = 20_000_000
MAX_SIDE = 20_000  # pixels on either side: a 200-inch ribbon of a page stays readable, not 60,000 wide
# The images drawn on a page to OCR, counted from their dictionaries before any is decoded: a
# 600-DPI A4 colour scan holds 35 M. A few KB of Flate can declare an image of gigabytes.
MAX_IMAGE_PIXELS = 100_000_000
MEMORY_BYTES = 1 << 30  # Tesseract reads a MAX_PIXELS page within 256 MB
LANGUAGE = "eng"
WAIT_TICK = 0.5  # how often `waiting()` is called while the engine runs

_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
_ready: set[str] = set()  # engines found to have LANGUAGE (a missing one is looked for again)
_ready_lock = threading.Lock()


class OcrFailed(Exception):
    """The engine ran but gave no text: it crashed or ran out of its memory."""


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "This PDF has scanned pages, and the server has no OCR engine to read them (Tesseract with "
        "English). Ask the administrator to install it, or upload a PDF that has a text layer.",
        code="ocr_unavailable",
    )


def render_scale(width: float, height: float) -> float:
    """Pixels per PDF point to render a `width` x `height` point page at: DPI, lowered so the bitmap
    (whose sides are rounded up) holds at most MAX_PIXELS and no side is longer than MAX_SIDE."""
    scale = DPI / 72
    if width <= 0 or height <= 0:
        return scale
    scale = min(scale, math.sqrt(MAX_PIXELS / (width * height)), MAX_SIDE / max(width, height))
    while scale > 0 and math.ceil(width * scale) * math.ceil(height * scale) > MAX_PIXELS:
        scale *= 0.999  # the sides are rounded up; a sliver of a step brings them back under
    return scale


def recognise(image: Image.Image, dpi: int, seconds: float, waiting: Callable[[], None] = lambda: None) -> str:
    """The text Tesseract reads in `image` (rendered at `dpi`); TimeoutError when that takes more
    than `seconds`. `waiting()` is called every WAIT_TICK meanwhile, to tell a watcher the reader
    is alive: the engine's own time is bounded here, so the watcher need not stop it."""
    engine = _engine()
    if seconds <= 0:
        raise TimeoutError
    # The image goes in a file, not down stdin: Popen.communicate() called again after a timeout
    # stops writing its input (CPython 3.11), and a watcher wants to hear from us meanwhile.
    with tempfile.NamedTemporaryFile(prefix="profai-ocr-", suffix=".png") as file:
        image.save(file, "PNG", compress_level=1)  # the fastest level: a page is ~0.5 MB and ~50 ms
        file.flush()
        deadline = time.monotonic() + seconds
        process = subprocess.Popen([engine, file.name, "stdout", "-l", LANGUAGE, "--dpi", str(dpi)], env=_ENV,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            _limit(process.pid, seconds)
            out = _communicate(process, deadline, waiting)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    if process.returncode != 0:
        raise OcrFailed(f"tesseract exited with {process.returncode}")
    return out.decode("utf-8", "replace")


def _engine() -> str:
    """The Tesseract executable, once it is known to read LANGUAGE; `ocr_unavailable` otherwise."""
    engine = shutil.which("tesseract")
    if engine is None:
        raise unavailable()
    with _ready_lock:
        if engine in _ready:
            return engine
    try:
        listed = subprocess.run([engine, "--list-langs"], capture_output=True, timeout=30, env=_ENV).stdout
    except (OSError, subprocess.SubprocessError):
        raise unavailable() from None
    if LANGUAGE not in listed.decode("utf-8", "replace").split():
        raise unavailable()
    with _ready_lock:
        _ready.add(engine)
    return engine


def _limit(pid: int, seconds: float) -> None:
    """Cap the engine's memory and CPU time, as it starts; where the kernel does not allow it,
    the reader's timeout still holds."""
    cpu = max(1, math.ceil(seconds) + 1)
    try:
        resource.prlimit(pid, resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
        resource.prlimit(pid, resource.RLIMIT_CPU, (cpu, cpu + 1))
    except (OSError, ValueError):
        pass


def _communicate(process: subprocess.Popen[bytes], deadline: float, waiting: Callable[[], None]) -> bytes:
    while True:
        try:
            out, _ = process.communicate(timeout=max(0.0, min(WAIT_TICK, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise TimeoutError from None
            waiting()
            continue
        return out

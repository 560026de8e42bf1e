"""A real HTTP server speaking OpenAI's wire format, with faults injected on demand.

In a test:   with FakeOpenAI(p429=0.15, seed=1) as api: ... api.url, api.requests, api.max_in_window()
As a process: python tests/fakes/openai_server.py --port 8099 --rate-limit 5 --log requests.log
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

MALFORMED = ("bad_json", "wrong_count", "missing_fields")
# Script names; "ok" is the rest. "stream_cut" ends a streamed reply after `cut_after` tokens,
# without [DONE], as a dropped connection does.
FAULTS = ("429", "429_retry_after", "500", "slow", "stream_cut", *MALFORMED)


def fake_embedding(text: str, dim: int = 64) -> list[float]:
    """Hashed bag of words, unit length: texts sharing words point the same way."""
    vec = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()) or ["<empty>"]:
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vec[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


@dataclass
class Faults:
    """Probabilities per request (checked in this order), plus a script consumed before them."""

    p429: float = 0.0
    p429_retry_after: float = 0.5  # share of 429s that carry Retry-After
    retry_after: float = 1.0
    p500: float = 0.0
    p_slow: float = 0.0
    slow_seconds: float = 5.0
    p_malformed: float = 0.0  # split evenly over MALFORMED
    cut_after: int = 4
    script: deque[str] = field(default_factory=deque)


class FakeOpenAI:
    """Runs in a background thread on a free loopback port; every request is logged."""

    def __init__(self, *, dim: int = 64, seed: int | None = 0, rate_limit: float | None = None,
                 api_key: str | None = None, reply: str | Callable[[dict], str] | list[str] = "Hello from the fake.",
                 reject_json_schema: bool = False, log_file: Path | None = None, **faults: Any):
        self.dim, self.rate_limit, self.api_key, self.reply = dim, rate_limit, api_key, reply
        self.reject_json_schema, self.log_file = reject_json_schema, log_file
        self.faults = Faults(**faults)
        self.rng = random.Random(seed)
        self.requests: list[tuple[float, str, int]] = []  # (arrival monotonic, path, status)
        self.received: list[tuple[float, dict]] = []  # (arrival, JSON body) of each parsed request
        self._arrivals: deque[float] = deque()
        self._lock = threading.Lock()
        self.app = self._build_app()
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------
    def set_faults(self, **faults: Any) -> None:
        self.faults = Faults(**faults)

    def script(self, *names: str) -> None:
        """The next requests get these outcomes, in order, before the probabilities apply again."""
        self.faults.script.extend(names)

    def max_in_window(self, seconds: float = 1.0, path: str | None = None) -> int:
        """The most requests that arrived within any `seconds`-long window."""
        return max_in_window([t for t, p, _ in self.requests if path is None or p == path], seconds)

    @property
    def bodies(self) -> list[dict]:
        """The JSON bodies received, in arrival order."""
        return [body for _, body in sorted(self.received, key=lambda r: r[0])]

    def count(self, path: str | None = None, status: int | None = None) -> int:
        return sum(1 for _, p, s in self.requests if (path is None or p == path) and (status is None or s == status))

    def start(self, port: int = 0) -> FakeOpenAI:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        # A short graceful shutdown: slow answers nobody waits for must not hold up stop().
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, timeout_keep_alive=30,
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        from support import wait_until  # not at the top: this file also runs as a script, without tests/ on the path

        def started() -> bool:
            if not self._thread.is_alive():
                raise RuntimeError("fake OpenAI server did not start")
            return self._server.started

        wait_until(started, timeout=10, interval=0.01, message="the fake OpenAI server to start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour -------------------------------------------------------------------------
    def _pick_fault(self, now: float) -> str:
        f = self.faults
        if self.rate_limit is not None:
            # Every arrival counts, refused or not: a client that ignores 429s stays refused.
            while self._arrivals and now - self._arrivals[0] >= 1.0:
                self._arrivals.popleft()
            self._arrivals.append(now)
            if len(self._arrivals) > self.rate_limit:
                return "429_retry_after"
        if f.script:
            return f.script.popleft()
        r = self.rng.random()
        for name, p in (("429", f.p429), ("500", f.p500), ("slow", f.p_slow), ("malformed", f.p_malformed)):
            if r < p:
                if name == "429" and self.rng.random() < f.p429_retry_after:
                    return "429_retry_after"
                return self.rng.choice(MALFORMED) if name == "malformed" else name
            r -= p
        return "ok"

    async def _sleep(self, seconds: float) -> None:
        """A slow answer that stop() can cut short (nobody waits for it by then)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (self._server and self._server.should_exit):
            await asyncio.sleep(min(0.05, max(0.0, end - time.monotonic())))

    def _reply_text(self, body: dict) -> str:
        if callable(self.reply):
            return self.reply(body)
        if isinstance(self.reply, list):
            # A queue: each request takes the next reply; the last one repeats.
            return self.reply.pop(0) if len(self.reply) > 1 else self.reply[0]
        return self.reply

    def _record(self, arrived: float, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((arrived, path, status))
            if self.log_file is not None:
                with self.log_file.open("a") as log:
                    log.write(f"{arrived:.6f} {path} {status}\n")

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        async def handle(request: Request, answer: Callable[[dict, str], Response]) -> Response:
            if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
                return _error(401, "Incorrect API key provided.", "invalid_api_key")
            fault = self._pick_fault(time.monotonic())
            try:
                body = await request.json()
            except ValueError:
                return _error(400, "We could not parse the JSON body of your request.")
            self.received.append((request.state.arrived, body))
            if fault in ("429", "429_retry_after"):
                headers = {"Retry-After": f"{self.faults.retry_after:g}"} if fault == "429_retry_after" else {}
                return _error(429, "Rate limit reached.", "rate_limit_exceeded", headers)
            if fault == "500":
                return _error(500, "The server had an error while processing your request.")
            if fault == "slow":
                await self._sleep(self.faults.slow_seconds)
            if fault == "bad_json":
                return Response('{"data": [', media_type="application/json")
            return answer(body, fault)

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> Response:
            return await handle(request, self._embeddings)

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            return await handle(request, self._chat)

        return self._logged(app)

    def _logged(self, app: FastAPI) -> Callable:
        """Plain ASGI around the app: the arrival is stamped before any framework code runs."""

        async def asgi(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            arrived = time.monotonic()
            scope.setdefault("state", {})["arrived"] = arrived
            recorded = False

            # Logged when the answer starts, so a client reading a stream to its end always finds
            # its request in the log; a request that never got an answer is logged with status 0.
            async def send_logged(message):
                nonlocal recorded
                if message["type"] == "http.response.start" and not recorded:
                    recorded = True
                    self._record(arrived, scope["path"], message["status"])
                await send(message)

            try:
                await app(scope, receive, send_logged)
            finally:
                if not recorded:
                    self._record(arrived, scope["path"], 0)

        return asgi

    def _embeddings(self, body: dict, fault: str) -> Response:
        if fault == "missing_fields":
            return JSONResponse({"object": "list", "model": body.get("model")})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dim = body.get("dimensions") or self.dim
        data = [{"object": "embedding", "index": i, "embedding": fake_embedding(t, dim)} for i, t in enumerate(texts)]
        self.rng.shuffle(data)  # the API does not promise order; clients must sort by index
        if fault == "wrong_count":
            data = data[:-1]
        return JSONResponse({"object": "list", "data": data, "model": body.get("model"),
                             "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)}})

    def _chat(self, body: dict, fault: str) -> Response:
        fmt = (body.get("response_format") or {}).get("type")
        if self.reject_json_schema and fmt == "json_schema":
            return _error(400, "response_format 'json_schema' is not supported by this model.")
        if fault in ("missing_fields", "wrong_count"):
            return JSONResponse({"object": "chat.completion", "choices": []})
        text = self._reply_text(body)
        if body.get("stream"):
            cut = self.faults.cut_after if fault == "stream_cut" else None
            return StreamingResponse(_sse(text, body.get("model"), cut), media_type="text/event-stream")
        return JSONResponse({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": len(text.split()), "total_tokens": 1},
        })


def max_in_window(times: list[float], seconds: float = 1.0) -> int:
    """The most arrivals within any window of `seconds` (closed at both ends, so the stricter count)."""
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def read_log(path: Path) -> list[tuple[float, str, int]]:
    """The (arrival, path, status) lines a server started with --log wrote."""
    rows = (line.split() for line in path.read_text().splitlines() if line.strip())
    return [(float(t), p, int(s)) for t, p, s in rows]


def _error(status: int, message: str, code: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "fake_error", "code": code}}, status, headers=headers)


def split_tokens(text: str) -> list[str]:
    """How the fake streams a reply: words with their leading space."""
    return re.findall(r"\s*\S+", text) or [text]


async def _sse(text: str, model: str | None, cut_after: int | None = None):
    def chunk(delta: dict, finish: str | None = None) -> str:
        body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    for n, token in enumerate(split_tokens(text)):
        if n == cut_after:
            return
        yield chunk({"content": token})
        await asyncio.sleep(0)
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate-limit", type=float, default=None, help="answer 429 above this many requests/s")
    parser.add_argument("--log", type=Path, default=None, help="append 'arrival path status' per request")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    for name in ("p429", "p500", "p_slow", "p_malformed", "slow_seconds", "retry_after"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float, default=None)
    args = vars(parser.parse_args())
    port = args.pop("port")
    faults = {k: v for k, v in args.items() if k not in ("rate_limit", "log", "dim", "seed") and v is not None}
    fake = FakeOpenAI(dim=args["dim"], seed=args["seed"], rate_limit=args["rate_limit"], log_file=args["log"],
                      **faults)
    uvicorn.run(fake.app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

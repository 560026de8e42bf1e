"""Log lines that say which request and which job they belong to.

A request id comes with each HTTP request (X-Request-ID when the client or proxy sends a sane
one, else a new one) and is stored with the job an upload creates; the worker that runs the job
binds it again, with the job id, so an upload's lines and its job's lines share one id however
many processes they pass through. Both ids live in context variables: asyncio tasks and the
threads FastAPI runs handlers in copy them, other threads and processes are handed them
(`context()`, `bound(**ids)`).

LOG_FORMAT=json writes one JSON object per line (timestamp, level, logger, message, request_id,
job_id, exception) for ProfAI's loggers, uvicorn's, Celery's and every library's: log shippers
parse it without a grok pattern. The default stays text for people at a terminal."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("profai_request_id", default=None)
JOB_ID: ContextVar[str | None] = ContextVar("profai_job_id", default=None)
_VARS = {"request_id": REQUEST_ID, "job_id": JOB_ID}

# What a request id may be: what proxies and tracers generate (hex, UUIDs, nginx's $request_id,
# dotted or colon-separated trace ids), bounded so it cannot bloat every log line or the job row.
# Anything else (a newline that would forge a log line, markup, a megabyte) is replaced.
MAX_REQUEST_ID = 128
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Characters JSON leaves as they are but some line readers (Python's splitlines, editors) break
# lines at: escaped, so a record is one line for every reader.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def new_request_id() -> str:
    return uuid.uuid4().hex


def safe_request_id(value: str | bytes | None) -> str:
    """`value` if it is a sane request id, else a new one."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value and len(value) <= MAX_REQUEST_ID and _SAFE_ID.fullmatch(value):
        return value
    return new_request_id()


def request_id() -> str | None:
    """The request id of the request or job this code runs for, if any."""
    return REQUEST_ID.get()


def context() -> dict[str, str | None]:
    """The ids bound here, to hand to another thread or process (see `bound`)."""
    return {name: var.get() for name, var in _VARS.items()}


@contextlib.contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """Bind request_id and/or job_id for the code inside, then restore what was there."""
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages and tracebacks are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
            "job_id": JOB_ID.get(),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str).translate(_LINE_BREAKS)


def configure(fmt: str = "text", level: int | str = logging.INFO) -> None:
    """Send every logger's records to stderr in `fmt` ("text" or "json"), replacing the root
    logger's handlers (safe to call again, e.g. in a forked or spawned child)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per call to a Chroma server or a model
    if fmt == "json":
        # Whatever else would reach stderr as free text goes through the handler too.
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_thread_crash


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    logging.getLogger("profai").critical("uncaught exception in process %d", os.getpid(), exc_info=(kind, exc, tb))


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    exc = args.exc_value if args.exc_value is not None else args.exc_type()
    logging.getLogger("profai").error("uncaught exception in thread %s", name,
                                      exc_info=(args.exc_type, exc, args.exc_traceback))

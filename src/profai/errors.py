"""One error family: each error carries an HTTP status and a stable machine code."""

from __future__ import annotations

from typing import Any


class ProfAIError(Exception):
    """Base of every expected failure; the API maps it to a JSON error response."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None):
        # All arguments go to super().__init__ so the error survives pickling (Celery, process pools).
        super().__init__(message, code, status_code)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.code, self.status_code))

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def _rebuild(cls: type[ProfAIError], message: str, code: str | None, status_code: int | None) -> ProfAIError:
    return cls(message, code=code, status_code=status_code)


SNIPPET_CHARS = 100


def snippet(value: object, limit: int = SNIPPET_CHARS) -> str:
    """repr() of a piece of the user's input, clipped: an error names what it refuses without
    echoing a 1 MB column name or a 20,000-character id back into every message and log line."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def listing(values: list[str], limit: int = 5) -> str:
    """At most `limit` clipped names, then how many more there are."""
    shown = ", ".join(snippet(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


class NotFound(ProfAIError):
    status_code = 404
    code = "not_found"


class InvalidInput(ProfAIError):
    status_code = 422
    code = "invalid_input"


class PayloadTooLarge(ProfAIError):
    status_code = 413
    code = "file_too_large"


class UnsupportedFile(ProfAIError):
    """The bytes are not what the endpoint accepts (judged by content, not by name)."""

    status_code = 415
    code = "unsupported_file"


class Conflict(ProfAIError):
    status_code = 409
    code = "conflict"


class Unauthorized(ProfAIError):
    """No identity, or one that is not valid (signed out, revoked key, disabled user)."""

    status_code = 401
    code = "not_authenticated"


class Forbidden(ProfAIError):
    """A known identity whose role may not do this."""

    status_code = 403
    code = "forbidden"


class TooManyRequests(ProfAIError):
    """A per-user limit was reached; `retry_after` seconds until it may pass."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float = 1.0) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_limited, (self.message, self.code, self.retry_after))


def _rebuild_limited(message: str, code: str, retry_after: float) -> TooManyRequests:
    return TooManyRequests(message, code=code, retry_after=retry_after)


class ServiceUnavailable(ProfAIError):
    status_code = 503
    code = "unavailable"


class JobFailed(ProfAIError):
    """A job could not finish; its message is shown to the user as the job's `error`."""

    status_code = 422
    code = "job_failed"


class LeaseLost(Exception):
    """This worker no longer owns the job (reaped or cancelled): stop without writing."""


class PartTimeout(Exception):
    """A job or part ran past its soft time limit."""


class Retryable(Exception):
    """A transient failure (a dead compute process, a lost connection): run the job again."""

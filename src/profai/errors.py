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


def transient(exc: BaseException) -> str | None:
    """Why `exc` is a failure that passes, in words a job's owner can read, or None if it is not.

    The one place that decides what is retried: a Retryable (its own words), and a connection to
    the database, Redis, the vector store or a hosted API that was refused, dropped or timed out,
    found anywhere in the exception's chain (chromadb, for one, reports a refused connection as a
    ValueError raised from httpx's ConnectError). A job that meets one runs again after a backoff,
    within its JOB_MAX_ATTEMPTS (jobs/execute.py)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Retryable):
            return str(current) or "a transient failure"
        if reason := _connection_failure(current):
            return reason
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return None


def _connection_failure(exc: BaseException) -> str | None:
    # Imported here: this module sits below every layer and is imported by all of them.
    import httpx
    import redis.exceptions
    import sqlalchemy.exc
    from kombu.exceptions import OperationalError as BrokerError

    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated or (
            isinstance(exc, sqlalchemy.exc.OperationalError) and _server_side(exc)
        ):
            return "the database connection failed"
        return None
    if isinstance(exc, sqlalchemy.exc.DisconnectionError | sqlalchemy.exc.TimeoutError):
        return "the database connection failed"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | BrokerError):
        return "the connection to Redis failed"
    if isinstance(exc, httpx.NetworkError | httpx.TimeoutException | httpx.RemoteProtocolError | ConnectionError):
        return "a service it needs could not be reached"
    return None


def _server_side(exc: BaseException) -> bool:
    """An OperationalError that passes: any from a database server (a lost connection, a restart,
    a cancelled statement); from SQLite only a locked or busy database, since SQLite also reports
    a missing table or a bad file as an OperationalError."""
    orig = getattr(exc, "orig", None)
    if type(orig).__module__ != "sqlite3":
        return True
    text = str(orig).lower()
    return "locked" in text or "busy" in text

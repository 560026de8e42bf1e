"""One error family: each error carries an HTTP status and a stable machine code."""

from __future__ import annotations


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

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.code, self.status_code))

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


def _rebuild(cls, message, code, status_code):
    return cls(message, code=code, status_code=status_code)


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

"""Request rate limits for hosted APIs: per process, or shared through Redis by every worker.

Both limiters space requests evenly (GCRA with no burst): each caller reserves the next free
slot, `spacing` after the previous one, then sleeps until it. Even spacing is what keeps a server
that counts arrivals in any sliding one-second window from ever seeing more than `rate`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from profai.providers.http_retry import ProviderUnavailable

if TYPE_CHECKING:
    from profai.settings import Settings

# Slots are spaced (1 + MARGIN) / rate apart, so `rate` + 1 requests span 1.05 s and up to 50 ms
# of jitter between reserving a slot and the server seeing the request cannot squeeze them into
# one second. On a loaded 2-core host, loopback requests arrived up to ~15 ms late; 2 % was too thin.
MARGIN = 0.05


class RateLimiter(Protocol):
    def acquire(self, deadline: float | None = None) -> None:
        """Block until a request may be sent; raise ProviderUnavailable if that is past `deadline`."""


def _spacing(rate: float, margin: float) -> float:
    if rate <= 0:
        raise ValueError("rate must be positive")
    return (1 + margin) / rate


# A caller that wakes more than this share of the spacing after its slot (a loaded host delayed
# the thread) would crowd the next caller's request: it drops the slot and reserves another.
LATE = 0.25


class _Spaced:
    """acquire() for limiters that hand out evenly spaced slots via `_reserve(deadline)`."""

    spacing: float

    def _reserve(self, deadline: float | None) -> float:
        """Reserve the next slot; returns it as a time.monotonic() value."""
        raise NotImplementedError

    def acquire(self, deadline: float | None = None) -> None:
        """Wait for a slot of one's own, on time."""
        while True:
            slot = self._reserve(deadline)
            pause = slot - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if time.monotonic() - slot <= LATE * self.spacing:
                return


def _too_late(wait: float, deadline: float | None) -> ProviderUnavailable:
    left = max(0.0, (deadline or 0) - time.monotonic())
    return ProviderUnavailable(f"rate limit: the next free slot is {wait:.2f} s away, past the deadline in {left:.2f} s")


class LocalRateLimiter(_Spaced):
    """Thread-safe limiter for one process; a copy in another process limits that process alone."""

    def __init__(self, rate: float, margin: float = MARGIN):
        self.rate, self.margin = rate, margin
        self.spacing = _spacing(rate, margin)
        self._next = 0.0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"rate": self.rate, "margin": self.margin}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state)

    def _reserve(self, deadline: float | None) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            if deadline is not None and slot > deadline:
                # Not reserved: a slot we will never use must not delay the other callers.
                raise _too_late(slot - now, deadline)
            self._next = slot + self.spacing
            return slot


# KEYS[1]: the key holding the next free slot (µs of the Redis clock).
# ARGV: spacing (µs), longest acceptable wait (µs, -1 for none). Returns {reserved 1|0, wait µs}.
# Redis TIME is the one clock all hosts share; script effects replication (Redis >= 5) allows the
# write after TIME. string.format('%.0f') because tostring() would round a 16-digit number.
RESERVE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local spacing = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local wait = slot - now
if max_wait >= 0 and wait > max_wait then
  return {0, wait}
end
local ttl = math.ceil((wait + spacing) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', slot + spacing), 'PX', ttl)
return {1, wait}
"""


class RedisRateLimiter(_Spaced):
    """One limit shared by every process on every host that uses the same Redis key."""

    def __init__(self, redis_url: str, key: str, rate: float, margin: float = MARGIN):
        self.redis_url, self.key, self.rate, self.margin = redis_url, key, rate, margin
        self.spacing = _spacing(rate, margin)
        self._script: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Connections do not pickle; the copy reconnects on first use.
        return {"redis_url": self.redis_url, "key": self.key, "rate": self.rate, "margin": self.margin}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state)

    def _script_once(self) -> Any:
        with self._lock:
            if self._script is None:
                import redis

                client = redis.Redis.from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=5)
                self._script = client.register_script(RESERVE_SCRIPT)
            return self._script

    def _reserve(self, deadline: float | None) -> float:
        import redis

        asked = time.monotonic()
        max_wait = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1e6))
        try:
            reserved, wait_us = self._script_once()(keys=[self.key], args=[int(self.spacing * 1e6), max_wait])
        except redis.RedisError as exc:
            # Only host/port/db in the message: the URL may carry a password.
            where = self.redis_url.rsplit("@", 1)[-1]
            raise ProviderUnavailable(f"rate limit: Redis at {where} is unreachable ({exc})") from exc
        wait = int(wait_us) / 1e6
        if not int(reserved):
            raise _too_late(wait, deadline)
        return asked + wait


def build_rate_limiter(s: Settings, name: str, rate: float | None = None) -> RateLimiter:
    """Redis-backed when Redis is configured (REDIS_URL set or JOB_RUNNER=celery), else per process."""
    rate = rate or s.openai_rate_limit
    if s.redis_url or s.job_runner == "celery":
        return RedisRateLimiter(s.broker_url, f"profai:ratelimit:{name}", rate)
    return LocalRateLimiter(rate)

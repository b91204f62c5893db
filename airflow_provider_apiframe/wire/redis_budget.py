"""
One request budget for every process that uses a key: the pace kept in Redis.

apiframe's limit is per key, but each Airflow process (workers, triggerers) paces only itself, so
three processes sharing a key would together send three times the budget. When the apiframe
connection names a Redis connection (extra ``rate_limit_redis_conn_id``), the pace's state (the next
due time, the current interval and the last slowdown) lives in one Redis hash. Each booking reads it,
moves it on with the same ``Pacer`` arithmetic a single process uses, and writes it back in one
optimistic transaction (WATCH/MULTI), on Redis's clock so that the processes agree on the time.

Why not a rate-limiting library (``limits``, say): those answer "may I send now?" for a fixed or
sliding window, which lets a burst of a whole window through and then stalls; the pace here tells
each sender how long to wait, and slows everyone down together when the API answers 429.

The Redis connection is made with the Redis provider's ``RedisHook``. If Redis cannot be reached, the
process keeps its own pace (and says so once) and tries Redis again a little later: losing the shared
pace costs at worst some 429s, which the transport rides out, never a failed task.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from airflow_provider_apiframe.wire.pacing import Booking, Headroom, LocalBudget, Pacer

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

log = logging.getLogger(__name__)

KEY_PREFIX = "apiframe:budget:"
# A budget nobody has used for this long is dropped from Redis.
KEY_TTL_SECONDS = 3600
# After Redis failed, the process paces itself for this long before trying Redis again.
RETRY_REDIS_AFTER = 30.0

T = TypeVar("T")


class RedisBudget:
    """The pace of one key, kept in Redis and shared by every process that names the same Redis."""

    blocking = True

    def __init__(self, redis_conn_id: str, name: str, fallback: LocalBudget) -> None:
        self.redis_conn_id = redis_conn_id
        self.key = KEY_PREFIX + name
        self.fallback = fallback
        self._client: Redis | None = None
        self._unreachable_until = 0.0
        self._lock = threading.Lock()

    def book(self) -> Booking:
        """Book the next send on the shared pace; on this process's own while Redis cannot be reached."""

        def reserve(pacer: Pacer, now: float) -> Booking:
            wait = pacer.reserve(now)
            return Booking(wait, now + wait)

        booked = self._update(reserve)
        return booked if booked is not None else self.fallback.book()

    def refused(self, retry_after: float | None, booking: Booking) -> None:
        """Slow the shared pace down after a 429; this process's own while Redis cannot be reached."""

        def slow_down(pacer: Pacer, now: float) -> bool:
            pacer.rate_limited(now, retry_after, booking.send_at)
            return True

        if self._update(slow_down) is None:
            self.fallback.refused(retry_after, booking)

    def headroom(self) -> Headroom:
        """Return what the shared pace can take now (every process's bookings counted); blocking."""
        shared = self._update(lambda pacer, now: pacer.headroom(now))
        return shared if shared is not None else self.fallback.headroom()

    def _update(self, change: Callable[[Pacer, float], T]) -> T | None:
        """Apply ``change`` to the shared pace atomically; None if Redis could not be reached."""
        if time.monotonic() < self._unreachable_until:
            return None
        results: list[T] = []

        def transaction(pipe: Pipeline) -> None:
            results.clear()
            seconds, micros = pipe.time()
            now = seconds + micros / 1e6
            pacer = Pacer(self.fallback.pacer.limit, self.fallback.pacer.burst)
            stored = pipe.hgetall(self.key)
            pacer.restore({_text(name): value for name, value in stored.items()})
            results.append(change(pacer, now))
            pipe.multi()
            pipe.hset(self.key, mapping=cast(Any, pacer.state()))
            pipe.expire(self.key, KEY_TTL_SECONDS)

        try:
            self._redis().transaction(transaction, self.key)
        except Exception as error:  # any failure of Redis or of reaching it: pace this process alone
            self._unreachable_until = time.monotonic() + RETRY_REDIS_AFTER
            log.warning(
                "The shared request budget in Redis (connection %r) cannot be used, this process paces "
                "itself for %.0f s: %s",
                self.redis_conn_id,
                RETRY_REDIS_AFTER,
                error,
            )
            return None
        return results[-1]

    def _redis(self) -> Redis:
        with self._lock:
            if self._client is None:
                from airflow.providers.redis.hooks.redis import RedisHook

                self._client = RedisHook(redis_conn_id=self.redis_conn_id).get_conn()
            return self._client


def _text(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else name

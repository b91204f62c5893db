"""
A connection's credit limit: what its key may spend per day or per DAG run, kept where every process sees it.

Each job is entered under its idempotency key before it is submitted, at the most it can cost, and settled
at what it did cost once it ends (or dropped when it failed: the API refunds it). Keys make the ledger as
idempotent as the API: a retried task that gets back the job it already paid for enters nothing new, and
one whose job failed enters its next job afresh. A job whose price is unknown enters at 0 and is let
through only while the limit is not yet reached.

The ledger lives in the Redis the connection names (``rate_limit_redis_conn_id``), updated by one Lua
script per call so that two processes cannot both take the last credits; without Redis it is this
process's own. If that Redis cannot be reached, nothing is submitted (``ApiframeLedgerUnavailableError``,
which Airflow retries): a limit that each process kept for itself could be spent once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_apiframe.exceptions import ApiframeLedgerUnavailableError

if TYPE_CHECKING:
    from redis import Redis

KEY_PREFIX = "apiframe:credits:"
# Long enough for a job entered one day to be settled the next; the ledger of a period then goes.
KEY_TTL_SECONDS = 8 * 24 * 3600


@dataclass(frozen=True)
class Spender:
    """The task that spends: named in the ledger and in a refusal."""

    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None

    @classmethod
    def of(cls, context: Mapping[str, Any] | None) -> Spender:
        """Return the spender of a task's context; an anonymous one outside a task."""
        ti = context.get("ti") if context else None
        if ti is None:
            return cls()
        return cls(dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id)

    @classmethod
    def current(cls) -> Spender:
        """Return the spender of the task running this code; an anonymous one outside a task."""
        from airflow.providers.common.compat.sdk import get_current_context

        try:
            return cls.of(get_current_context())
        except Exception:  # no task runs here (Airflow 2 and 3 raise different types)
            return cls()

    @property
    def label(self) -> str:
        """``dag.task``, as the ledger counts spending by."""
        if self.dag_id is None:
            return "code outside a task"
        return f"{self.dag_id}.{self.task_id}"


@dataclass(frozen=True)
class Refusal:
    """Why a reservation was refused: what is spent (or held) in the period already, and by whom."""

    spent: int
    asked: int
    by: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CreditLimit:
    """At most ``credits`` per ``per`` (a UTC day, or a DAG run) for one key."""

    credits: int
    per: str

    def periods(self, spender: Spender, now: datetime | None = None) -> tuple[str, ...]:
        """Return the period a job is entered in now, then the one before, where older jobs are settled."""
        if self.per == "dag_run":
            return (f"run:{spender.dag_id}:{spender.run_id}",)
        today = (now or datetime.now(UTC)).date()
        return (f"day:{today.isoformat()}", f"day:{(today - timedelta(days=1)).isoformat()}")

    def describe(self, period: str) -> str:
        """Say the limit and its period in words, for a refusal."""
        if self.per == "dag_run":
            return f"{self.credits} credits per DAG run"
        return f"{self.credits} credits per day (UTC; {period.removeprefix('day:')})"


class Ledger(Protocol):
    """Where a limit's entries live."""

    def reserve(self, period: str, jobs: Mapping[str, int], who: str, limit: int) -> Refusal | None:
        """Enter every job not entered yet, unless that passes ``limit``: then enter none."""

    def settle(self, periods: tuple[str, ...], costs: Mapping[str, int | None]) -> None:
        """Set jobs' entries to what they cost; None drops one (a failed job is refunded)."""


class LocalLedger:
    """The entries of this process only."""

    def __init__(self) -> None:
        self._periods: dict[str, _Period] = {}
        self._lock = threading.Lock()

    def reserve(self, period: str, jobs: Mapping[str, int], who: str, limit: int) -> Refusal | None:
        """Enter every job not entered yet, unless that passes ``limit``: then enter none."""
        with self._lock:
            book = self._periods.setdefault(period, _Period())
            fresh = {job: credits for job, credits in jobs.items() if job not in book.jobs}
            asked = sum(fresh.values())
            if fresh and (book.total + asked > limit or book.total >= limit):
                return Refusal(spent=book.total, asked=asked, by=dict(book.by))
            for job, credits in fresh.items():
                book.jobs[job] = (credits, who)
            book.add(who, asked)
            return None

    def settle(self, periods: tuple[str, ...], costs: Mapping[str, int | None]) -> None:
        """Set jobs' entries to what they cost; None drops one (a failed job is refunded)."""
        with self._lock:
            for job, credits in costs.items():
                book = next(
                    (self._periods[p] for p in periods if job in self._periods.get(p, _NONE).jobs), None
                )
                if book is None:
                    continue
                held, who = book.jobs.pop(job)
                if credits is not None:
                    book.jobs[job] = (credits, who)
                book.add(who, (credits or 0) - held)


@dataclass
class _Period:
    """One period's entries in a ``LocalLedger``."""

    total: int = 0
    by: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, who: str, credits: int) -> None:
        self.total += credits
        self.by[who] = self.by.get(who, 0) + credits


# KEYS[1]: the period's hash (total and jobs), KEYS[2]: its spenders. ARGV: limit, who, ttl, then job and
# credits pairs. Returns {1} when entered, else {0, total, asked, spender, credits, ...}.
_RESERVE = """
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
local asked, fresh = 0, {}
for i = 4, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], 'job:' .. ARGV[i]) == 0 then
    asked = asked + tonumber(ARGV[i + 1])
    fresh[#fresh + 1] = i
  end
end
if #fresh > 0 and (total + asked > tonumber(ARGV[1]) or total >= tonumber(ARGV[1])) then
  local answer = {0, total, asked}
  for _, value in ipairs(redis.call('HGETALL', KEYS[2])) do answer[#answer + 1] = value end
  return answer
end
for _, i in ipairs(fresh) do
  redis.call('HSET', KEYS[1], 'job:' .. ARGV[i], ARGV[i + 1] .. '|' .. ARGV[2])
end
redis.call('HINCRBY', KEYS[1], 'total', asked)
redis.call('HINCRBY', KEYS[2], ARGV[2], asked)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {1}
"""
# KEYS: pairs of a period's hash and its spenders, most recent first. ARGV: job and credits pairs ('' drops
# the job's entry).
_SETTLE = """
for j = 1, #ARGV, 2 do
  local job = 'job:' .. ARGV[j]
  for i = 1, #KEYS, 2 do
    local entry = redis.call('HGET', KEYS[i], job)
    if entry then
      local bar = string.find(entry, '|', 1, true)
      local held, who = tonumber(string.sub(entry, 1, bar - 1)), string.sub(entry, bar + 1)
      local now = 0
      if ARGV[j + 1] == '' then
        redis.call('HDEL', KEYS[i], job)
      else
        now = tonumber(ARGV[j + 1])
        redis.call('HSET', KEYS[i], job, now .. '|' .. who)
      end
      redis.call('HINCRBY', KEYS[i], 'total', now - held)
      redis.call('HINCRBY', KEYS[i + 1], who, now - held)
      break
    end
  end
end
return 1
"""


class RedisLedger:
    """The entries in Redis, shared by every process that names the same Redis connection."""

    def __init__(self, redis_conn_id: str, name: str) -> None:
        self.redis_conn_id = redis_conn_id
        self.name = name
        self._client: Redis | None = None
        self._lock = threading.Lock()

    def reserve(self, period: str, jobs: Mapping[str, int], who: str, limit: int) -> Refusal | None:
        """Enter every job not entered yet, unless that passes ``limit``: then enter none."""
        pairs = [value for job, credits in jobs.items() for value in (job, credits)]
        answer = self._run(_RESERVE, self._keys(period), limit, who, KEY_TTL_SECONDS, *pairs)
        if int(answer[0]):
            return None
        spenders = [_text(value) for value in answer[3:]]
        by = {spenders[i]: int(spenders[i + 1]) for i in range(0, len(spenders), 2)}
        return Refusal(spent=int(answer[1]), asked=int(answer[2]), by=by)

    def settle(self, periods: tuple[str, ...], costs: Mapping[str, int | None]) -> None:
        """Set jobs' entries to what they cost; None drops one (a failed job is refunded)."""
        keys = [key for period in periods for key in self._keys(period)]
        pairs = [
            value for job, credits in costs.items() for value in (job, "" if credits is None else credits)
        ]
        self._run(_SETTLE, keys, *pairs)

    def _keys(self, period: str) -> list[str]:
        # One hash tag: a Redis Cluster keeps both keys of a period on one node, as a script needs.
        tag = f"{KEY_PREFIX}{{{self.name}:{period}}}"
        return [tag, f"{tag}:by"]

    def _run(self, script: str, keys: list[str], *args: str | int) -> Any:
        try:
            return self._redis().eval(script, len(keys), *keys, *args)
        except Exception as error:  # any failure of Redis or of reaching it
            raise ApiframeLedgerUnavailableError(
                f"The credit limit's ledger in Redis (connection {self.redis_conn_id!r}) cannot be used, so "
                f"nothing is submitted: {error}"
            ) from None

    def _redis(self) -> Redis:
        with self._lock:
            if self._client is None:
                from airflow.providers.redis.hooks.redis import RedisHook

                self._client = RedisHook(redis_conn_id=self.redis_conn_id).get_conn()
            return self._client


_NONE = _Period()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_local_ledgers: dict[str, LocalLedger] = {}
_redis_ledgers: dict[tuple[str, str], RedisLedger] = {}
_ledgers_lock = threading.Lock()


def ledger_for(name: str, redis_conn_id: str | None) -> Ledger:
    """Return the ledger of the key named ``name`` (its budget name): in that Redis, else this process's."""
    with _ledgers_lock:
        if redis_conn_id:
            return _redis_ledgers.setdefault((name, redis_conn_id), RedisLedger(redis_conn_id, name))
        return _local_ledgers.setdefault(name, LocalLedger())

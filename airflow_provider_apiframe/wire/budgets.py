"""
The request budget of one host and key in this process.

The budget is the process's own pace, or one kept in Redis for every process that names the same Redis
connection. Apart from ``pacing`` (the pace) and ``redis_budget`` (the shared one) so that neither imports
the other.
"""

from __future__ import annotations

import hashlib
import threading

from airflow_provider_apiframe.wire.pacing import Budget, LocalBudget, Pacer
from airflow_provider_apiframe.wire.redis_budget import RedisBudget

_local_budgets: dict[tuple[str, str, int], LocalBudget] = {}
_redis_budgets: dict[tuple[str, str, int, str], Budget] = {}
_budgets_lock = threading.Lock()


def budget_name(base_url: str, api_key: str) -> tuple[str, str]:
    """Name the budget of a host and key: the base URL and a short digest of the key."""
    # The key's digest, not the key, names the budget: nothing here should hold a secret longer.
    return base_url, hashlib.sha256(api_key.encode()).hexdigest()[:16]


def budget_for(base_url: str, api_key: str, limit: int, redis_conn_id: str | None = None) -> Budget:
    """
    Return the budget every client of one host and key uses in this process.

    With ``redis_conn_id`` the pace is kept in that Redis, so every process naming it shares one pace
    (and falls back to its own while Redis cannot be reached).
    """
    name = (*budget_name(base_url, api_key), limit)
    with _budgets_lock:
        local = _local_budgets.setdefault(name, LocalBudget(Pacer(limit)))
        if not redis_conn_id:
            return local
        # Every process applies its own limit to the one pace the key has in Redis.
        return _redis_budgets.setdefault((*name, redis_conn_id), RedisBudget(redis_conn_id, name[1], local))

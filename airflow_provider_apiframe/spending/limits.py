"""
The two spending limits, checked before anything is sent: a task's ``max_credits``, a key's ``credit_limit``.

``max_credits`` counts one task alone, against the most its jobs can cost. ``credit_limit`` (connection
extra, per UTC day or per DAG run) counts every task using the key, in the ledger of :mod:`.ledger`; a
refusal names the limit, what its period has spent already and by which ``dag.task``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from airflow_provider_apiframe.exceptions import ApiframeLedgerUnavailableError, ApiframeSpendLimitError
from airflow_provider_apiframe.spending.ledger import CreditLimit, Ledger, Spender, ledger_for

if TYPE_CHECKING:
    from airflow_provider_apiframe.wire.transport import ClientSettings

log = logging.getLogger(__name__)
# Spenders a refusal names, the biggest first.
SPENDERS_NAMED = 5


def check_max_credits(max_credits: int | None, model: str, prices: Sequence[int | None]) -> None:
    """Refuse jobs of ``model`` (their most each can cost) that could pass ``max_credits`` together."""
    if max_credits is None or not prices:
        return
    jobs = len(prices)
    if any(price is None for price in prices):
        raise ApiframeSpendLimitError(
            f"max_credits={max_credits} cannot be checked: the price of {model} is not known (neither the "
            "catalogue nor GET /v2/models gives one)",
            limit=max_credits,
            credits_required=None,
            jobs=jobs,
        )
    cost = sum(price or 0 for price in prices)
    if cost > max_credits:
        what = f"{jobs} jobs of {model}" if jobs > 1 else f"a {model} job"
        raise ApiframeSpendLimitError(
            f"{what} could cost {cost} credits, more than max_credits={max_credits}",
            limit=max_credits,
            credits_required=cost,
            jobs=jobs,
        )


def credit_limit(settings: ClientSettings) -> tuple[CreditLimit, Ledger] | None:
    """Return the connection's credit limit and its ledger; None when the connection sets no limit."""
    if settings.credit_limit is None:
        return None
    # The key's digest with the host's: never the key itself, which nothing here should hold longer.
    name = hashlib.sha256(f"{settings.base_url}\n{settings.api_key}".encode()).hexdigest()[:16]
    return CreditLimit(settings.credit_limit, settings.credit_limit_per), ledger_for(
        name, settings.rate_limit_redis_conn_id
    )


def enter_jobs(
    settings: ClientSettings, spender: Spender, model: str, jobs: Mapping[str, int | None]
) -> None:
    """
    Enter jobs (by idempotency key, at the most each can cost) under the connection's credit limit.

    All or none: jobs that would pass the limit together are refused with ``ApiframeSpendLimitError``.
    Jobs entered before (a retry's) are not counted again.
    """
    found = credit_limit(settings)
    if found is None or not jobs:
        return
    limit, ledger = found
    period = limit.periods(spender)[0]
    entries = {key: price or 0 for key, price in jobs.items()}
    refusal = ledger.reserve(period, entries, spender.label, limit.credits)
    if refusal is None:
        return
    spenders = sorted(((who, spent) for who, spent in refusal.by.items() if spent), key=lambda item: -item[1])
    named = ", ".join(f"{who} {spent}" for who, spent in spenders[:SPENDERS_NAMED]) or "nobody yet"
    if len(spenders) > SPENDERS_NAMED:
        named += f" and {len(spenders) - SPENDERS_NAMED} more"
    what = f"{len(jobs)} jobs of {model}" if len(jobs) > 1 else f"this {model} job"
    cost = f"would cost up to {refusal.asked} credits" if refusal.asked else "has no known price"
    raise ApiframeSpendLimitError(
        f"The credit_limit of connection {settings.conn_id or 'apiframe'} is {limit.describe(period)}: "
        f"{refusal.spent} are spent or held by running jobs ({named}), and {what} by {spender.label} {cost}. "
        "Nothing was submitted.",
        limit=limit.credits,
        credits_required=refusal.asked,
        jobs=len(jobs),
        spent=refusal.spent,
        spent_by=refusal.by,
    )


def settle_jobs(settings: ClientSettings, spender: Spender, costs: Mapping[str, int | None]) -> None:
    """Set the ledger's entries of jobs (by the key each was entered under) to their cost; None: refunded."""
    found = credit_limit(settings)
    if found is None or not costs:
        return
    limit, ledger = found
    try:
        ledger.settle(limit.periods(spender), costs)
    except ApiframeLedgerUnavailableError as error:
        # The entries keep the jobs' highest prices: the limit errs on the side of spending less.
        log.warning("What the jobs cost could not be written to the credit ledger: %s", error)

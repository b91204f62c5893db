"""
A batch's submission as its one submit trigger reads it: request bodies and sent chunks, in XCom.

The request bodies wait in the task's XCom, a chunk a value, and each chunk's jobs are recorded beside
them as soon as it is sent. The trigger's row in the trigger table then says where the plan is instead
of holding 10,000 request bodies, and the task resumes once for the whole submission instead of once a
chunk (each resumption holds a worker slot for about a second). A triggerer that dies mid-submission is
replaced by one that reads which chunks were recorded and sends the rest: at most one chunk again, under
the same idempotency keys. The values live as long as the try (Airflow clears a task's XComs when a new
try starts, not when it resumes): a retry finds its rows' jobs in the task state store, or gets them
back from their keys. Triggers reach XCom through the triggerer's supervisor on Airflow 3 and the
database on Airflow 2.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Protocol

from airflow_provider_apiframe.exceptions import ApiframeError
from airflow_provider_apiframe.waiting.events import JobEvent

PLAN_KEY = "apiframe_batch_plan"
SENT_KEY = "apiframe_batch_sent"


class PushesXCom(Protocol):
    """The task instance of the task's context, as far as a plan needs it."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int | None

    def xcom_push(self, key: str, value: Any) -> None:
        """Push a value to the task's XCom."""


@dataclass(frozen=True)
class SentChunk:
    """What one chunk's submits gave: row index to job id, and row index to the end of rows given up."""

    jobs: dict[str, str]
    settled: dict[str, JobEvent]


@dataclass(frozen=True)
class SubmitPlan:
    """
    Where a batch's request bodies wait, as the submit trigger's kwargs hold it.

    :param dag_id: The task's DAG.
    :param task_id: The task.
    :param run_id: The DAG run.
    :param map_index: The task's map index (-1 when not mapped).
    :param id: This submission's own name, so that a later one (of failed rows) in the same try has
        keys of its own.
    :param rows: The rows' indexes, in the order their submits are stored.
    :param chunk: Rows a chunk holds.
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    id: str
    rows: list[int]
    chunk: int

    @classmethod
    def push(cls, ti: PushesXCom, entries: Sequence[Sequence[Any]], chunk: int) -> SubmitPlan:
        """Push rows' stored submits (``[index, ...]`` each) in chunks to the task's XCom; return the plan."""
        rows = [int(entry[0]) for entry in entries]
        map_index = -1 if ti.map_index is None else ti.map_index
        plan = cls(ti.dag_id, ti.task_id, ti.run_id, map_index, uuid.uuid4().hex[:12], rows, chunk)
        for number in range(plan.chunks):
            ti.xcom_push(plan.key(PLAN_KEY, number), list(entries[number * chunk : (number + 1) * chunk]))
        # How many chunks are recorded, so that a trigger reads only records that exist (a missing XCom
        # is logged as an error on Airflow 3).
        ti.xcom_push(plan.key(SENT_KEY), 0)
        return plan

    @property
    def chunks(self) -> int:
        """How many chunks the plan holds."""
        return -(-len(self.rows) // self.chunk)

    def chunk_holding(self, row: int) -> int | None:
        """Return the chunk that holds a row's submit (None: the row is not in the plan)."""
        place = self._places.get(row)
        return None if place is None else place // self.chunk

    @cached_property
    def _places(self) -> dict[int, int]:
        return {index: place for place, index in enumerate(self.rows)}

    @classmethod
    def read(cls, stored: Mapping[str, Any]) -> SubmitPlan:
        """Read a plan back from the trigger's kwargs."""
        return cls(**stored)

    def stored(self) -> dict[str, Any]:
        """Return the plain JSON the trigger's kwargs hold."""
        return asdict(self)

    def key(self, kind: str, number: int | None = None) -> str:
        """
        Return the XCom key of one chunk's submits (``PLAN_KEY``) or of what it gave (``SENT_KEY``).

        ``SENT_KEY`` without a number: how many chunks are recorded.
        """
        return f"{kind}.{self.id}" if number is None else f"{kind}.{self.id}.{number}"

    async def submits(self, number: int) -> list[Any]:
        """Return one chunk's stored submits."""
        value = await read_xcom(self, self.key(PLAN_KEY, number))
        if not isinstance(value, list):
            raise ApiframeError(
                f"Chunk {number} of the batch's submits is not in XCom ({self.key(PLAN_KEY, number)}): "
                "were the task's XComs cleared while it was deferred?"
            )
        return value

    async def recorded(self) -> list[SentChunk]:
        """
        Return what each chunk sent so far gave, in order (none before the trigger first ran).

        Reading stops at the first record that is missing or unreadable, so the trigger sends
        again from that chunk rather than shifting the later chunks onto the wrong rows.
        """
        count = await read_xcom(self, self.key(SENT_KEY))
        recorded: list[SentChunk] = []
        for number in range(int(count or 0)):
            record = await read_xcom(self, self.key(SENT_KEY, number))
            if not isinstance(record, dict):
                break
            recorded.append(SentChunk(dict(record.get("jobs") or {}), dict(record.get("settled") or {})))
        return recorded

    async def record(self, number: int, sent: SentChunk) -> None:
        """Record what one chunk's submits gave, before the next chunk is sent."""
        await write_xcom(self, self.key(SENT_KEY, number), asdict(sent))
        await write_xcom(self, self.key(SENT_KEY), number + 1)


async def read_xcom(plan: SubmitPlan, key: str) -> Any:
    """Read one of the task's XComs from a trigger."""
    from airflow.providers.common.compat.sdk import XCom

    where = _where(plan)
    if _supervisor_answers_async():
        return await XCom.aget_one(key=key, **where)
    return XCom.get_one(key=key, **where)


async def write_xcom(plan: SubmitPlan, key: str, value: Any) -> None:
    """Write one of the task's XComs from a trigger."""
    from airflow.providers.common.compat.sdk import XCom

    where = _where(plan)
    if _supervisor_answers_async():
        await XCom.aset(key=key, value=value, **where)
    else:
        XCom.set(key=key, value=value, **where)


def _where(plan: SubmitPlan) -> dict[str, Any]:
    return {
        "dag_id": plan.dag_id,
        "task_id": plan.task_id,
        "run_id": plan.run_id,
        "map_index": plan.map_index,
    }


def _supervisor_answers_async() -> bool:
    """
    Say whether XCom is reached through a supervisor that answers without blocking the event loop.

    A triggerer's does (Airflow 3); ``airflow dags test`` runs triggers in the task's process, whose
    stand-in supervisor answers only the blocking calls; Airflow 2 reads the database.
    """
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:
        return False
    return hasattr(getattr(task_runner, "SUPERVISOR_COMMS", None), "asend")

"""What a DAG run's apiframe tasks spent, from the ``credit_cost`` XCom each pushes when it ends."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)
CREDIT_COST_XCOM = "credit_cost"


def run_credits(ti: Any, task_ids: Sequence[str]) -> dict[str, int]:
    """
    Return the credits each of ``task_ids`` spent in this DAG run, and their sum under ``"total"``.

    For a task at the end of a DAG; a task that spent nothing, or did not get as far as a job, counts 0.
    (With ``trigger_rule="all_done"`` it would also report a run that failed part way, but as the DAG's
    last task its success would then hide the failure from the run's state.)
    """
    # One pull per task: a list of task ids gets back only the XComs that exist, not one per task.
    spent = {task_id: int(ti.xcom_pull(task_ids=task_id, key=CREDIT_COST_XCOM) or 0) for task_id in task_ids}
    spent["total"] = sum(spent.values())
    log.info("apiframe: this DAG run spent %d credits: %s", spent["total"], spent)
    return spent

"""
Run one DAG with ``dag.test()`` (what ``airflow dags test`` does) and print each task's end state.

The last line of output is ``RESULT {json}``: the run's state and, per task, its state and try number.
Environment: AIRFLOW_HOME (migrated), AIRFLOW__CORE__DAGS_FOLDER, and the apiframe connection.
"""

from __future__ import annotations

import json
import os
import sys


def main(dag_id: str) -> None:
    from airflow.models import DagBag, TaskInstance
    from airflow.utils.session import create_session

    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag(dag_id)
    run = dag.test()
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run.run_id).all()
        tasks = {ti.task_id: {"state": str(ti.state), "try_number": ti.try_number} for ti in tis}
    print("RESULT " + json.dumps({"state": str(run.state), "tasks": tasks}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""
Batches on the topology our users run at scale (``airflow_topology.py``: PostgreSQL, Redis as broker and
shared budget, two Celery workers, two triggerers, scheduler, DAG processor, API server), against the
emulator with production's variety (lognormal job lengths, median ``--median`` s, sigma 0.4, mixed
progress shapes, the key's limit enforced). Three scenarios over the same rows, side by side:

- one batch of every row;
- the same rows as ``--batches`` batches at once (their triggers spread over both triggerers, one
  budget for the key through Redis);
- one batch whose triggerer is SIGKILLed mid-submission (the other takes its trigger over).

Printed per scenario: wall time (the DAG run's start to its end) over the bound
(rows / limit + the longest job), requests per image (every request of the key, submits included),
429s, jobs paid, requests resent (idempotent replays), worker-slot seconds (batch task instances in
the ``running`` state, sampled, integrated) as a share of the wall time, the largest trigger row seen,
and the metadata database's growth per row. Rows, limit and chunk scale together: a chunk is a
minute of submits at the limit, as 500 rows are at the API's 500 a minute: the default, 2,000 rows at 500
a minute, is production's shape at a fifth of the issue's 10,000 rows (a four-minute bound).

    .venvs/airflow-3.3/bin/python benchmarks/topology.py --rows 2000 --rate-limit 500
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from airflow_provider_apiframe.emulator import emulator_process  # noqa: E402
from benchmarks.airflow_topology import Topology  # noqa: E402
from benchmarks.batch import RunningSampler, finished_jobs, production_variety, stamp  # noqa: E402

KEY = "afk_benchmark_topology"
SCENARIOS = ("one batch", "batches at once", "triggerer killed")


def measure(scenario: str, args: argparse.Namespace) -> dict[str, float | str]:
    rows, limit = args.rows, args.rate_limit
    batches = args.batches if scenario == "batches at once" else 1
    sizes = {"rows": rows, "chunk": limit, "mapped": 0, "batches": batches}
    with (
        emulator_process(*production_variety(KEY, args.median, args.seed, limit)) as url,
        tempfile.TemporaryDirectory(prefix="apiframe-bench-topology-") as tmp,
    ):
        results = Path(tmp) / "results"
        results.mkdir()
        dags = ROOT / "benchmarks" / "topology_dags"
        with Topology(
            Path(tmp) / "cluster", dags, url, KEY, results=results, sizes=sizes, rate_limit=limit
        ) as topology:
            cluster = topology.airflow
            [(size_before,)] = cluster.query("select pg_database_size(current_database())")
            sampler = RunningSampler(
                cluster,
                "select count(*) from task_instance where dag_id = 'apiframe_topology_batch' "
                "and task_id like 'batch%' and state = 'running'",
                "select max(length(kwargs)) from trigger",
            )
            sampler.start()
            topology.trigger("apiframe_topology_batch")
            if scenario == "triggerer killed":
                cluster.wait_for(
                    "half a chunk",
                    lambda: _stats(url)["jobs_created"] >= limit * 1.5,
                    timeout=args.cap,
                )
                victim = cluster.wait_for(
                    "the batch's triggerer", lambda: topology.triggerer_of("apiframe_topology_batch")
                )
                cluster.kill(victim)
            try:
                state = cluster.wait_for(
                    "the run", lambda: topology.run_state("apiframe_topology_batch"), timeout=args.cap
                )
            except AssertionError:
                state = "cut off"
            sampler.stop.set()
            sampler.join()
            [(start, end)] = cluster.query(
                "select start_date, end_date from dag_run where dag_id = 'apiframe_topology_batch'"
            )
            [(size_after,)] = cluster.query("select pg_database_size(current_database())")
            stats = _stats(url)
            if args.keep_logs:
                # The components' and tasks' logs, to read what a run did after its cluster is gone.
                kept = Path(args.keep_logs) / scenario.replace(" ", "-")
                shutil.copytree(cluster.home, kept, ignore=shutil.ignore_patterns("__pycache__", "*.pid"))
                print(f"{scenario}: logs kept in {kept}", file=sys.stderr)
        jobs = finished_jobs(url, KEY)
    wall = (end.timestamp() if end else time.time()) - start.timestamp()
    longest = max(
        (stamp(j["completedAt"]) - stamp(j["createdAt"]) for j in jobs if j.get("completedAt")), default=0
    )
    bound = 60.0 * rows / limit + longest
    return {
        "run": str(state),
        "wall s": wall,
        "bound s": bound,
        "wall / bound": wall / bound,
        "requests/image": sum(stats["requests_by_key"].values()) / rows,
        "429s": float(stats["responses_by_status"].get("429", 0)),
        "jobs paid": float(stats["jobs_created"]),
        "requests resent": float(stats["idempotent_replays"]),
        "list pages read": float(stats["list_requests"]),
        "jobs polled alone": float(stats["polls"]),
        "worker-slot s": sampler.slot_seconds,
        "slot % of wall": 100 * sampler.slot_seconds / wall,
        "largest trigger KB": sampler.peak / 1024,
        "database B per row": (int(size_after) - int(size_before)) / rows,
    }


def _stats(url: str) -> dict:
    from urllib.request import urlopen

    return json.loads(urlopen(url + "/_emulator/stats", timeout=30).read())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rate-limit", type=int, default=500, help="requests a minute per key")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--median", type=float, default=8.0, help="median job length (s)")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--cap", type=float, default=1800.0, help="seconds before a run is cut off")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--keep-logs", metavar="FOLDER", help="copy each scenario's Airflow logs here")
    args = parser.parse_args()
    results = {}
    for scenario in args.scenario or SCENARIOS:
        results[scenario] = measure(scenario, args)
        print(scenario, json.dumps(results[scenario]), flush=True)
    names = list(results)
    print(
        f"\n{args.rows} rows, {args.rate_limit} requests a minute per key enforced, chunks of "
        f"{args.rate_limit} rows, lognormal jobs median {args.median:g} s sigma 0.4"
    )
    print(f"{'':22s}" + "".join(f"{n:>20s}" for n in names))
    for metric in results[names[0]]:
        values = [results[n][metric] for n in names]
        cells = [f"{v:>20s}" if isinstance(v, str) else f"{v:20.3f}" for v in values]
        print(f"{metric:22s}" + "".join(cells))


if __name__ == "__main__":
    main()

"""
When to poll, replayed in virtual time: thousands of jobs a second, to explore what ``waiting.py`` measures.

``waiting.py`` measures the real thing (HTTP, the triggerer's event loop, the emulator's rate limit) but
needs minutes per progress shape. This replays the same decisions without any of it: each job advances as
the emulator's own ``CoursePlanner`` and ``Job.progress_at`` say (lognormal lengths, a random share spent
QUEUED, the same progress shapes), and each poll is ``JobWatch.after_poll`` on what the API would answer at
that instant. Every job is waited for alone; "cold" is a fresh process (nothing learned), "learned" one
that has waited for ``--learn-from`` jobs of the model first, "paged" one that only read their durations
(as the first page of the model's finished jobs teaches a fresh process). Printed per shape, side by
side: requests per image (submit included) and p50/p95 detection delay, for ours, the vendor SDK's
schedule, an HttpSensor poking every 5 s, and a waiter that knows the emulator's model of a job
(``waiting_bound.py``): roughly the best any policy could do on these jobs.

    .venvs/airflow-3.3/bin/python benchmarks/waiting_policy.py --jobs 2000
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

from waiting_bound import ModelKnowingWaiter

from airflow_provider_apiframe.emulator.jobs import Job as EmulatedJob
from airflow_provider_apiframe.emulator.jobs import JobStatus as EmulatedStatus
from airflow_provider_apiframe.emulator.progress import SHAPES, CoursePlanner
from airflow_provider_apiframe.waiting import history_file
from airflow_provider_apiframe.waiting.durations import forget_all, history_for
from airflow_provider_apiframe.waiting.watch import JobWatch
from airflow_provider_apiframe.wire.jobs import Job, JobStatus

# Time from the submit's answer to the job's createdAt, and a poll's round trip over loopback.
ROUND_TRIP = 0.005
EPOCH = 1_800_000_000.0
MODEL = "imagen-4"
# (requests including the submit, detection delay)
Outcome = tuple[int, float]
Schedule = Callable[[], Iterator[float]]


def answer(job: EmulatedJob, now: float) -> Job:
    """What ``GET /v2/jobs/{id}`` says about ``job`` at ``now``, as the client parses it."""
    state = job.progress_at(now)
    completed = state.status is EmulatedStatus.COMPLETED
    return Job(
        id=job.id,
        status=JobStatus(state.status.value),
        model=MODEL,
        progress=state.progress,
        images=["https://cdn.example/1.png"] if completed else [],
        # The API writes milliseconds.
        created_at=round(job.created_at, 3),
        completed_at=round(state.ended_at, 3) if state.ended_at is not None else None,
    )


def wait_ours(job: EmulatedJob) -> Outcome:
    submitted_at = job.created_at + ROUND_TRIP
    watch = JobWatch(
        job.id,
        poll_interval=5.0,
        deadline=submitted_at + 600,
        submitted_at=submitted_at,
        log=logging.getLogger("policy"),
        model=MODEL,
    )
    now = submitted_at
    step: dict[str, Any] | float = watch.first_delay(now)
    while not isinstance(step, dict):
        now += step + ROUND_TRIP
        step = watch.after_poll(answer(job, now - ROUND_TRIP / 2), now)
    return 1 + watch.polls, now - job.created_at - job.duration


def wait_on_schedule(job: EmulatedJob, schedule: Schedule) -> Outcome:
    now = job.created_at + ROUND_TRIP
    for polls, pause in enumerate(schedule(), start=1):
        now += pause + ROUND_TRIP
        if job.progress_at(now - ROUND_TRIP / 2).status is EmulatedStatus.COMPLETED:
            return 1 + polls, now - job.created_at - job.duration
    raise AssertionError("the schedule ended first")


def vendor_sdk() -> Iterator[float]:
    yield 0.0
    delay = 2.0
    while True:
        yield delay
        delay = min(delay * 1.5, 5.0)


def http_sensor() -> Iterator[float]:
    yield 0.0
    while True:
        yield 5.0


def jobs(planner: CoursePlanner, count: int, start: float) -> list[EmulatedJob]:
    made = []
    for i in range(count):
        course = planner.plan("")
        made.append(
            EmulatedJob(
                id=f"job-{start:.0f}-{i}",
                team_id="team",
                submission=SimpleNamespace(prompt=""),  # type: ignore[arg-type]
                created_at=start + 1000.0 * i,
                duration=course.duration,
                cost=7,
                queued_share=course.queued_share,
                shape=course.shape,
            )
        )
    return made


def summary(outcomes: list[Outcome]) -> dict[str, float]:
    delays = [delay for _, delay in outcomes]
    return {
        "requests/image": statistics.fmean(requests for requests, _ in outcomes),
        "p50 delay s": statistics.median(delays),
        "p95 delay s": statistics.quantiles(delays, n=20)[18],
    }


def run_shape(shape: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    planner = CoursePlanner(args.median, args.sigma, shape, args.seed)
    measured = jobs(planner, args.jobs, EPOCH)
    cold = []
    for job in measured:
        forget_all()
        cold.append(wait_ours(job))
    paged, learned = [], []
    for number, job in enumerate(measured):
        earlier = jobs(planner, args.learn_from, EPOCH - 1e7 * (number + 1))
        forget_all()
        for done in earlier:  # what a page of the model's finished jobs teaches: their durations
            history_for(MODEL).record(done.duration)
        paged.append(wait_ours(job))
        forget_all()
        for done in earlier:
            wait_ours(done)
        learned.append(wait_ours(job))
    knowing = ModelKnowingWaiter(shape, args.median, args.sigma)
    return {
        "ours, cold": summary(cold),
        "ours, paged": summary(paged),
        "ours, learned": summary(learned),
        "vendor SDK": summary([wait_on_schedule(job, vendor_sdk) for job in measured]),
        "HttpSensor 5 s": summary([wait_on_schedule(job, http_sensor) for job in measured]),
        "knows the model": summary([knowing.wait(job, ROUND_TRIP) for job in measured]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", action="append", choices=[s for s in SHAPES if s != "back"])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--learn-from", type=int, default=100)
    parser.add_argument("--median", type=float, default=8.0)
    parser.add_argument("--sigma", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ[history_file.HISTORY_DIR_ENV] = ""  # virtual time: nothing learned here is real
    logging.disable(logging.CRITICAL)
    for shape in args.shape or [s for s in SHAPES if s != "back"]:
        results = run_shape(shape, args)
        names = list(results)
        print(f"\nprogress {shape}: {args.jobs} jobs alone, lognormal {args.median} s / sigma {args.sigma}")
        print(f"{'':16s}" + "".join(f"{n:>16s}" for n in names))
        for metric in results[names[0]]:
            print(f"{metric:16s}" + "".join(f"{results[n][metric]:16.2f}" for n in names))


if __name__ == "__main__":
    main()

"""
Waiting for jobs: our trigger next to the vendor SDK's schedule and an HttpSensor, in one run.

The emulator runs in its own process with production's variety: job lengths drawn lognormal (median
``--median`` s, sigma ``--sigma``), progress of a given shape, and the API's per-key rate limit
(``--rate-limit``, 500 a minute by default) enforced on every key. Each contender waits with a key of
its own, and jobs are submitted with other keys of the same team, so that a thousand submits go at once
(as from a thousand workers) and the waiters start with their whole budget; the submit still counts as
one request per image.

- ours: ``ApiframeJobTrigger.run()`` as a triggerer runs it (all triggers of the process share one
  status hub, one HTTP session and one request budget; the operator's default poll_interval of 5 s).
- vendor SDK: ``jobs.waitFor``'s schedule (poll at once, then 2 s growing x1.5 to a 5 s cap), waiting
  out a 429's Retry-After as the SDK does, with one session per waiter.
- HttpSensor: the http provider's ``HttpAsyncHook`` poking every 5 s, as a deferred ``HttpSensor`` does.

Scenarios: each job waited for alone, ours in a fresh process per job, then N jobs at once in one
event loop; ours both "cold" (nothing learned, the first process ever) and "learned" (starting from the
history file kept by a process that waited for 100 jobs of the model, ``--learn-from``, as a restarted
triggerer or a worker's blocking wait does; one teacher per shape and QUEUED share, on the first
seed). Cold is truly cold: on each emulator it runs first, before the teacher and the learned waiters,
so no page it reads holds an earlier finished job of the model, and what its process's warm-up wait
learned is forgotten before the measured wait. Every case runs on ``--seeds`` emulators seeded apart
and on each ``--queued-share`` range (the share of a job's life spent QUEUED), so that a policy's
figures are seen to hold, not to have come out once. Printed per case: requests per image (submit
included), p50/p95 detection delay (when the waiter first saw the end minus the job's completedAt), 429
answers, client CPU per job, resident memory per waiting job, sockets held, and ratios to ours; at the
end, each case's spread over the seeds. The stock waiters read no progress and learn nothing, so at
once they are measured on the first seed and shape of each scenario and QUEUED share, and shown beside
every row of it (``--ours-only`` leaves them out: what they cost does not depend on this code).
A contender that has not seen every job end within ``--cap`` seconds is cut off and says so.

    .venvs/airflow-3.3/bin/python benchmarks/waiting.py                       # everything
    .venvs/airflow-3.3/bin/python benchmarks/waiting.py --scenario 100 --shape front --seeds 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode, urlparse
from urllib.request import Request, urlopen

from airflow_provider_apiframe.emulator import emulator_process
from airflow_provider_apiframe.waiting import history_file
from airflow_provider_apiframe.waiting.durations import forget_all

# Each contender waits with a key of its own, so that each has the whole budget and its requests are
# counted apart (the emulator counts answers per key).
KEYS = {
    "ours": "afk_benchmark_ours",
    "vendor SDK": "afk_benchmark_sdk",
    "HttpSensor 5 s": "afk_benchmark_sensor",
}
# The benchmark's own requests (submits, look-ups) spread over keys of their own, so that a thousand
# submits go at once, as if made by a thousand workers, and take nothing from the waiters' budgets.
BOOKKEEPING_KEYS = [f"afk_benchmark_bookkeeping_{i}" for i in range(16)]
_bookkeeping_key = itertools.cycle(BOOKKEEPING_KEYS)  # next() on it is atomic under the GIL
SHAPES = ("linear", "front", "steps", "stall", "none")
STOCK = ("vendor SDK", "HttpSensor 5 s")
# Ours is measured twice: in a fresh process, and in one starting from the history file of a process
# that waited for this many jobs (``--learn-from``).
LEARNED = "ours, learned"
LEARN_FROM = 100
# The key of the process whose history file the learned waiters start from.
TEACHER_KEY = "afk_benchmark_teacher"
# The emulator's default range of the share of a job's life spent QUEUED, and a wider one.
QUEUED_SHARES = ((0.1, 0.3), (0.05, 0.35))
SPREAD_METRICS = ("requests/image", "p50 delay s", "p95 delay s", "429s")
# What ours must hold at once, in every run: requests per image, and p95 delay by scenario.
TARGET_REQUESTS = 1.3
TARGET_P95 = {"100": 1.0, "1000": 2.0}
# The numbers are the output: Airflow's per-request log lines (it logs to stdout) would bury them.
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")

Waiter = Callable[[str, float], Awaitable[float]]


# --- bookkeeping: the benchmark's own requests, with the other key, waiting out any 429 -----------------


def call(url: str, path: str, body: dict | None = None) -> dict:
    while True:
        request = Request(
            url + path,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-API-Key": next(_bookkeeping_key), "Content-Type": "application/json"},
        )
        try:
            with urlopen(request) as response:
                return json.loads(response.read())
        except HTTPError as err:
            if err.code != 429:
                raise
            time.sleep(float(err.headers.get("Retry-After", "1")))


def submit(url: str, count: int, tag: str) -> list[str]:
    """Submit ``count`` jobs side by side (as many workers would), so that they start together."""

    def one(i: int) -> str:
        return call(url, "/v2/images/generate", {"prompt": f"{tag} {i}", "model": "imagen-4"})["jobId"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, range(count)))


def completed_at(url: str, job_ids: list[str]) -> dict[str, float]:
    """Every job's completedAt, read from list pages (ten requests for a thousand jobs, not a thousand)."""
    wanted, found, cursor = set(job_ids), {}, None
    while wanted - set(found):
        query = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = call(url, f"/v2/jobs?{urlencode(query)}")
        for job in page["jobs"]:
            if job["id"] in wanted and job["completedAt"]:
                found[job["id"]] = parse_time(job["completedAt"])
        if not page["hasMore"]:
            break
        cursor = page["nextCursor"]
    return found


def parse_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def requests_so_far(url: str, key: str) -> tuple[int, int]:
    """The answers ``key`` got so far, and all 429s (contenders run one after another)."""
    stats = call(url, "/_emulator/stats")
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return stats["requests_by_key"].get(digest, 0), stats["responses_by_status"].get("429", 0)


# --- the contenders --------------------------------------------------------------------------------


async def ours(job_id: str, submitted_at: float) -> float:
    from airflow_provider_apiframe.triggers.apiframe import ApiframeJobTrigger

    trigger = ApiframeJobTrigger(
        job_id, "apiframe_default", 5.0, submitted_at + 600, submitted_at, model="imagen-4"
    )
    async for event in trigger.run():
        assert event.payload["status"] == "success", event.payload
        return time.time()
    raise AssertionError("no event")


def vendor_sdk(url: str) -> Waiter:
    async def wait(job_id: str, submitted_at: float) -> float:
        import aiohttp

        delay = 2.0
        async with aiohttp.ClientSession(headers={"X-API-Key": KEYS["vendor SDK"]}) as session:
            while True:
                async with session.get(f"{url}/v2/jobs/{job_id}") as response:
                    if response.status == 429:
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    job = await response.json()
                if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                    return time.time()
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 5.0)

    return wait


async def http_sensor(job_id: str, submitted_at: float) -> float:
    from aiohttp import ClientResponseError
    from airflow.providers.http.hooks.http import HttpAsyncHook

    while True:
        try:
            async with HttpAsyncHook(method="GET", http_conn_id="apiframe_http").session() as http:
                response = await http.run(endpoint=f"/v2/jobs/{job_id}")
                job = await response.json()
            if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                return time.time()
        except ClientResponseError:  # a 429 after the hook's own retries: poke again later
            pass
        await asyncio.sleep(5.0)


# --- measuring ------------------------------------------------------------------------------------


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sockets_to(port: int) -> int:
    """This process's TCP connections to the emulator, from /proc (no psutil needed)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and int(fields[2].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


async def wait_all(waiter: Waiter, job_ids: list[str], submitted_at: float, port: int, cap: float) -> dict:
    peak = {"rss": 0, "sockets": 0}
    baseline = rss_bytes()

    async def sample() -> None:
        while True:
            peak["rss"] = max(peak["rss"], rss_bytes() - baseline)
            peak["sockets"] = max(peak["sockets"], sockets_to(port))
            await asyncio.sleep(0.5)

    sampler = asyncio.ensure_future(sample())
    tasks = [asyncio.ensure_future(waiter(job_id, submitted_at)) for job_id in job_ids]
    done, pending = await asyncio.wait(tasks, timeout=cap)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    sampler.cancel()
    seen = {job_id: task.result() for job_id, task in zip(job_ids, tasks, strict=True) if task in done}
    return {"seen": seen, **peak}


def measure(name: str, waiter: Waiter, url: str, jobs: int, cap: float) -> dict:
    job_ids = submit(url, jobs, name)
    submitted_at = time.time()
    before, refused_before = requests_so_far(url, KEYS[name])
    cpu = time.process_time()
    result = asyncio.run(wait_all(waiter, job_ids, submitted_at, urlparse(url).port or 80, cap))
    cpu = time.process_time() - cpu
    after, refused_after = requests_so_far(url, KEYS[name])
    ends = completed_at(url, job_ids)
    delays = [seen - ends[j] for j, seen in result["seen"].items() if j in ends]
    return summary(
        jobs,
        requests=jobs + after - before,  # the submits, and what the waiters sent
        refused=refused_after - refused_before,
        delays=delays,
        cpu=cpu,
        rss=result["rss"],
        sockets=result["sockets"],
    )


def summary(
    jobs: int, *, requests: int, refused: int, delays: list[float], cpu: float, rss: int, sockets: int
):
    quantiles = statistics.quantiles(delays, n=20) if len(delays) >= 2 else [float("nan")] * 19
    return {
        "requests/image": requests / jobs,
        "p50 delay s": statistics.median(delays) if delays else float("nan"),
        "p95 delay s": quantiles[18],
        "429s": float(refused),
        "CPU ms/job": cpu * 1000 / jobs,
        "KB/waiting job": rss / 1024 / jobs,
        "sockets held": float(sockets),
        "jobs seen ending": len(delays) / jobs,
    }


# --- each job alone: ours in a fresh process per job ------------------------------------------------


def teach(url: str, key: str, jobs: int) -> None:
    """
    Wait for ``jobs`` jobs at once, unmeasured, as a triggerer some minutes into a data set has; what
    the process learns goes to the history file (``APIFRAME_HISTORY_DIR``) as it exits.
    """
    connect(url, key)

    async def earlier_jobs(job_ids: list[str]) -> None:
        await asyncio.gather(*(ours(job_id, time.time()) for job_id in job_ids))

    asyncio.run(earlier_jobs(submit(url, jobs, "earlier")))


def alone_child(url: str, key: str) -> None:
    """
    One job, one trigger, one process with its own key: print the job's numbers as JSON. It starts
    from the history file an earlier process kept, if ``APIFRAME_HISTORY_DIR`` names one.
    """
    connect(url, key)
    import airflow_provider_apiframe.triggers.apiframe  # noqa: F401 - a one-off per process, not per job

    # Sixteen processes importing Airflow at once starve each other of CPU, and a starved event loop
    # wakes late: the measured waits start together only once every process is ready.
    print("ready", flush=True)
    sys.stdin.readline()
    before, _ = requests_so_far(url, key)
    [job_id] = submit(url, 1, "alone")
    submitted_at = time.time()
    seen = asyncio.run(ours(job_id, submitted_at))
    after, _ = requests_so_far(url, key)
    delay = seen - completed_at(url, [job_id])[job_id]
    # The submit went with a bookkeeping key: it counts once here, and every poll was sent with ``key``.
    print(json.dumps({"requests": 1 + after - before, "delay": delay}))


def alone_keys(count: int) -> list[str]:
    return [f"afk_benchmark_alone_{i:03d}" for i in range(count)]


@contextlib.contextmanager
def history(taught: Path | None) -> Iterator[dict[str, str]]:
    """
    The environment of ours: no history file ("cold"), or a copy of the teacher's ("learned"), so that
    what one run adds to it is not where the next run starts from.
    """
    with tempfile.TemporaryDirectory(prefix="apiframe-history-") as folder:
        if taught is not None:
            shutil.copytree(taught, folder, dirs_exist_ok=True)
        yield {**os.environ, history_file.HISTORY_DIR_ENV: folder if taught is not None else ""}


def teach_into(url: str, folder: Path, learn_from: int) -> None:
    """Have a process wait for ``learn_from`` jobs and keep what it learned in ``folder``, once."""
    if not any(folder.iterdir()):
        env = {**os.environ, history_file.HISTORY_DIR_ENV: str(folder)}
        subprocess.run(
            [sys.executable, __file__, "--teach", url, TEACHER_KEY, str(learn_from)], env=env, check=True
        )


def alone_children(url: str, jobs: int, env: dict[str, str]) -> dict:
    _, refused_before = requests_so_far(url, BOOKKEEPING_KEYS[0])
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--alone-child", url, key],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for key in alone_keys(jobs)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        out, _ = child.communicate(timeout=600)
        results.append(json.loads(out.strip().splitlines()[-1]))
    _, refused_after = requests_so_far(url, BOOKKEEPING_KEYS[0])
    return summary(
        jobs,
        requests=sum(r["requests"] for r in results),
        refused=refused_after - refused_before,
        delays=[r["delay"] for r in results],
        cpu=float("nan"),
        rss=0,
        sockets=1,
    )


# --- running it all ---------------------------------------------------------------------------------


def connect(url: str, key: str = KEYS["ours"]) -> None:
    host = urlparse(url)
    os.environ["AIRFLOW_CONN_APIFRAME_DEFAULT"] = f"apiframe://:{key}@{host.hostname}:{host.port}"
    sensor_key = KEYS["HttpSensor 5 s"]
    os.environ["AIRFLOW_CONN_APIFRAME_HTTP"] = json.dumps(
        {"conn_type": "http", "host": host.hostname, "port": host.port, "extra": {"X-API-Key": sensor_key}}
    )


@dataclass(frozen=True)
class Case:
    """One emulator's settings: what its jobs are like."""

    shape: str
    seed: int
    queued_share: tuple[float, float]

    def label(self) -> str:
        low, high = self.queued_share
        return f"progress {self.shape}, QUEUED {low:.0%}-{high:.0%}, seed {self.seed}"


def emulator_args(args: argparse.Namespace, case: Case) -> list[str]:
    keys = [*KEYS.values(), *BOOKKEEPING_KEYS, TEACHER_KEY, *alone_keys(args.alone_jobs)]
    return [
        *[arg for key in keys for arg in ("--api-key", key)],
        "--job-duration", str(args.median),
        "--duration-sigma", str(args.sigma),
        "--queued-share", *map(str, case.queued_share),
        "--progress-shape", case.shape,
        "--seed", str(case.seed),
        "--credits", "100000000",
        "--rate-limit-per-minute", str(args.rate_limit),
    ]  # fmt: skip


def measure_child(url: str, name: str, jobs: int, cap: float) -> None:
    """One contender's wait in a process of its own, so that its memory and history start clean."""
    connect(url)
    # Imports are a one-off per process (see import_cost.py), not a cost per job: pay them first.
    import airflow.providers.http.hooks.http  # noqa: F401

    import airflow_provider_apiframe.triggers.apiframe  # noqa: F401

    contenders: dict[str, Waiter] = {
        "ours": ours,
        "vendor SDK": vendor_sdk(url),
        "HttpSensor 5 s": http_sensor,
    }
    # Modules that load on a waiter's first request are a one-off per process too: one unmeasured
    # wait on a job that is already over loads them, so the memory measured is the waiters' own.
    [warm] = submit(url, 1, "warm-up [duration:0.2]")
    while call(url, f"/v2/jobs/{warm}")["status"] != "COMPLETED":
        time.sleep(1)
    asyncio.run(contenders[name](warm, time.time() - 600))
    # The warm-up's job taught its model a duration: a cold waiter must start from nothing (a learned
    # one takes up its history file again on first use).
    forget_all()
    print(json.dumps(measure(name, contenders[name], url, jobs, cap)))


def child(url: str, name: str, jobs: int, cap: float, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, name, str(jobs), str(cap)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_case(
    args: argparse.Namespace, case: Case, scenario: str, stock: bool, taught: Path
) -> dict[str, dict]:
    """
    Ours cold and learned, and the stock waiters if ``stock``, one after another on one emulator; the
    learned waiters start from the history file in ``taught``, which a teacher makes on the first case.
    """
    results = {}
    jobs = args.alone_jobs if scenario == "alone" else int(scenario)
    with emulator_process(*emulator_args(args, case)) as url:
        # Cold before anything else on the emulator: no finished job of the model is on its pages yet.
        for name, folder in (("ours", None), (LEARNED, taught)):
            if folder is not None:
                teach_into(url, folder, args.learn_from)
            with history(folder) as env:
                if scenario == "alone":
                    results[name] = alone_children(url, jobs, env)
                else:
                    results[name] = child(url, "ours", jobs, args.cap, env)
        # The stock waiters share nothing between jobs: side by side is alone for them.
        for name in STOCK if stock else ():
            results[name] = child(url, name, jobs, args.cap, dict(os.environ))
    return results


def print_table(title: str, results: dict[str, dict]) -> None:
    print(f"\n{title}")
    names = list(results)
    print(f"{'':18s}" + "".join(f"{n:>16s}" for n in names) + "".join(f"{'/ ' + n:>18s}" for n in names[1:]))
    for metric in results["ours"]:
        values = [results[n][metric] for n in names]
        ratios = [values[0] / v if v else float("nan") for v in values[1:]]
        print(f"{metric:18s}" + "".join(f"{v:16.2f}" for v in values) + "".join(f"{r:18.2f}" for r in ratios))


def print_spread(runs: dict[tuple[str, str, str, str], list[dict]]) -> None:
    """Each case's figures over its seeds (lowest to highest), and how many runs met the targets."""
    print("\nSpread over seeds (lowest-highest):")
    print(
        f"{'scenario':9s}{'QUEUED':>9s} {'shape':8s}{'waiter':15s}"
        + "".join(f"{m:>16s}" for m in SPREAD_METRICS)
    )
    met = total = 0
    for (scenario, queued, shape, name), figures in runs.items():
        cells = [(min(f[m] for f in figures), max(f[m] for f in figures)) for m in SPREAD_METRICS]
        print(
            f"{scenario:9s}{queued:>9s} {shape:8s}{name:15s}"
            + "".join(f"{f'{low:.2f}-{high:.2f}':>16s}" for low, high in cells)
        )
        if scenario in TARGET_P95:
            total += len(figures)
            met += sum(meets_targets(scenario, f) for f in figures)
    if total:
        print(f"at once: {met} of {total} runs of ours met the targets (requests/image, p95, 0 429s)")


def meets_targets(scenario: str, figures: dict) -> bool:
    return (
        figures["requests/image"] <= TARGET_REQUESTS
        and figures["p95 delay s"] <= TARGET_P95[scenario]
        and figures["429s"] == 0
        and figures["jobs seen ending"] == 1
    )


def scenario(text: str) -> str:
    if text != "alone" and not (text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"alone or a number of jobs, not {text!r}")
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alone-child", nargs=2, metavar=("URL", "KEY"))
    parser.add_argument("--teach", nargs=3, metavar=("URL", "KEY", "JOBS"))
    parser.add_argument("--child", nargs=4, metavar=("URL", "CONTENDER", "JOBS", "CAP"))
    parser.add_argument("--scenario", action="append", type=scenario, help="alone, or how many jobs at once")
    parser.add_argument("--shape", action="append", choices=SHAPES)
    parser.add_argument("--median", type=float, default=8.0)
    parser.add_argument("--sigma", type=float, default=0.4)
    parser.add_argument("--rate-limit", type=int, default=500)
    parser.add_argument("--alone-jobs", type=int, default=16)
    parser.add_argument("--learn-from", type=int, default=LEARN_FROM)
    parser.add_argument(
        "--ours-only",
        action="store_true",
        help="leave out the stock waiters (what they cost does not depend on this provider's code)",
    )
    parser.add_argument("--cap", type=float, default=90.0, help="seconds before a contender is cut off")
    parser.add_argument("--seed", type=int, default=7, help="the first seed")
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds, from --seed on")
    parser.add_argument(
        "--queued-share",
        action="append",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="range of the share of a job's life spent QUEUED (default: the emulator's and a wider one)",
    )
    args = parser.parse_args()
    if not (args.alone_child or args.teach or args.child):
        # Every waiter starts from what its own run teaches it, never from files of an earlier run.
        os.environ[history_file.HISTORY_DIR_ENV] = ""
    if args.alone_child:
        alone_child(*args.alone_child)
        return
    if args.teach:
        url, key, jobs = args.teach
        teach(url, key, int(jobs))
        return
    if args.child:
        url, name, jobs, cap = args.child
        measure_child(url, name, int(jobs), float(cap))
        return
    run_all(args)


def run_all(args: argparse.Namespace) -> None:
    runs: dict[tuple[str, str, str, str], list[dict]] = {}
    for scenario in args.scenario or ["alone", "100", "1000"]:
        for low, high in args.queued_share or QUEUED_SHARES:
            stock: dict[str, dict] = {}
            for shape in args.shape or SHAPES:
                # The learned waiters of a shape and QUEUED share start from one teacher's history: what
                # it learns depends on the jobs' kind, not on the seed that drew them.
                with tempfile.TemporaryDirectory(prefix="apiframe-taught-") as taught:
                    for seed in range(args.seed, args.seed + args.seeds):
                        case = Case(shape, seed, (low, high))
                        # Alone, each stock waiter is 16 jobs: cheap enough to measure beside every case.
                        wanted = not args.ours_only and (scenario == "alone" or not stock)
                        results = run_case(args, case, scenario, wanted, Path(taught))
                        if scenario != "alone" and not args.ours_only:
                            stock = stock or {name: results[name] for name in STOCK}
                            results = {**results, **stock}
                        for name in ("ours", LEARNED):
                            runs.setdefault((scenario, f"{low:.0%}-{high:.0%}", shape, name), []).append(
                                results[name]
                            )
                        print_case(args, scenario, case, results)
    print_spread(runs)


def print_case(args: argparse.Namespace, scenario: str, case: Case, results: dict[str, dict]) -> None:
    jobs = args.alone_jobs if scenario == "alone" else int(scenario)
    label = scenario if scenario == "alone" else f"{scenario} at once"
    print_table(
        f"{label}: {jobs} jobs, {case.label()}, lognormal median {args.median} s sigma {args.sigma}, "
        f"{args.rate_limit}/min per key (ratios: ours / other)",
        results,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

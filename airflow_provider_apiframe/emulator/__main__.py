"""Command line: ``apiframe-emulator`` / ``python -m airflow_provider_apiframe.emulator``."""

from __future__ import annotations

import argparse
import asyncio
import signal

from .config import DEFAULT_API_KEY, EmulatorConfig
from .process import LISTENING
from .progress import MIXED, SHAPES


def _parser() -> argparse.ArgumentParser:
    defaults = EmulatorConfig()
    parser = argparse.ArgumentParser(
        prog="apiframe-emulator", description="Serve an emulation of apiframe's v2 API."
    )
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help=f"accepted key (repeatable; default {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--inactive-key", action="append", dest="inactive_keys", default=[], help="answered 403"
    )
    parser.add_argument(
        "--other-team-key",
        action="append",
        dest="other_team_keys",
        default=[],
        help="a key of a second team, which sees none of the first team's jobs and LoRAs",
    )
    parser.add_argument(
        "--job-duration", type=float, default=defaults.job_duration, help="seconds per job (the median)"
    )
    parser.add_argument(
        "--video-duration-factor",
        type=float,
        default=defaults.video_duration_factor,
        help="a video job's median length in image jobs' (the median)",
    )
    parser.add_argument(
        "--music-duration-factor",
        type=float,
        default=defaults.music_duration_factor,
        help="a music job's median length in image jobs'",
    )
    parser.add_argument(
        "--lora-duration-factor",
        type=float,
        default=defaults.lora_duration_factor,
        help="a LoRA training's median length in image jobs'",
    )
    parser.add_argument(
        "--lora-training-cap",
        type=int,
        default=defaults.lora_training_cap,
        help="LoRA trainings a team may have in flight at once (one more is answered 429)",
    )
    parser.add_argument(
        "--duration-sigma", type=float, default=0.0, help="lognormal sigma of job lengths (0: all alike)"
    )
    parser.add_argument(
        "--queued-share",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        default=defaults.queued_share_range,
        help="range of the share of a varied job's life spent QUEUED",
    )
    parser.add_argument(
        "--progress-shape",
        choices=(*SHAPES, MIXED),
        default=defaults.progress_shape,
        help="how progress advances (mixed: a shape drawn per job)",
    )
    parser.add_argument(
        "--job-failure-rate",
        type=float,
        default=0.0,
        help="share of jobs that end FAILED anyway",
    )
    parser.add_argument("--credits", type=int, default=defaults.credits, help="starting balance")
    parser.add_argument("--retention", type=float, default=defaults.retention, help="seconds before expiry")
    parser.add_argument("--idempotency-ttl", type=float, default=defaults.idempotency_ttl)
    parser.add_argument(
        "--upload-ttl", type=float, default=defaults.upload_ttl, help="seconds an upload is served"
    )
    parser.add_argument("--rate-limit-per-minute", type=int, default=None)
    parser.add_argument(
        "--retry-after-format", choices=("seconds", "http-date"), default=defaults.retry_after_format
    )
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of /v2 requests answered 5xx")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of /v2 connections dropped")
    parser.add_argument("--malformed-rate", type=float, default=0.0, help="share answered with a broken body")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each /v2 answer")
    parser.add_argument(
        "--lose-submit-answer-every", type=int, default=0, help="drop every Nth 202 after the job exists"
    )
    parser.add_argument("--outage-every", type=float, default=0.0, help="seconds between outages (all 503)")
    parser.add_argument("--outage-length", type=float, default=0.0, help="seconds each outage lasts")
    parser.add_argument("--seed", type=int, default=None, help="seed for the random faults")
    return parser


def _config(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
        inactive_keys=tuple(args.inactive_keys),
        other_team_keys=tuple(args.other_team_keys),
        job_duration=args.job_duration,
        video_duration_factor=args.video_duration_factor,
        music_duration_factor=args.music_duration_factor,
        lora_duration_factor=args.lora_duration_factor,
        lora_training_cap=args.lora_training_cap,
        duration_sigma=args.duration_sigma,
        queued_share_range=tuple(args.queued_share),
        progress_shape=args.progress_shape,
        job_failure_rate=args.job_failure_rate,
        credits=args.credits,
        retention=args.retention,
        idempotency_ttl=args.idempotency_ttl,
        upload_ttl=args.upload_ttl,
        rate_limit_per_minute=args.rate_limit_per_minute,
        retry_after_format=args.retry_after_format,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        malformed_rate=args.malformed_rate,
        latency=args.latency,
        lose_submit_answer_every=args.lose_submit_answer_every,
        outage_every=args.outage_every,
        outage_length=args.outage_length,
        seed=args.seed,
    )


async def _serve(config: EmulatorConfig) -> None:
    from .runner import start_site
    from .server import build_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner, url = await start_site(build_app(config), config.host, config.port)
    # Scripts wait for this exact line to learn the port; flush so a pipe gets it at once.
    print(f"{LISTENING}{url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator with the options of ``argv`` until SIGINT or SIGTERM."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        config = _config(args)
    except ValueError as exc:
        parser.error(str(exc))
    asyncio.run(_serve(config))


if __name__ == "__main__":
    main()

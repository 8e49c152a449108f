"""``bria-emulator`` (and ``python -m bria_dagster.emulator``): run the emulator on a port."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bria_dagster.emulator.config import PLAN_RPM, EmulatorConfig
from bria_dagster.emulator.faults import FaultRule
from bria_dagster.emulator.latency import parse_latency_option
from bria_dagster.emulator.server import uvicorn_server
from bria_dagster.emulator.state import EmulatorState
from bria_dagster.serving import bind, url_of

_FAULT_FLAGS = {
    "fault_5xx": "server_error",
    "fault_drop": "drop_before",
    "fault_drop_after": "drop_after",
    "fault_error": "job_error",
    "fault_unknown": "job_unknown",
    "fault_slow": "slow",
}


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="bria-emulator",
        description="A local Bria-compatible API server (no token, no network, no credits).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8833, help="port (0 picks a free one)")
    limits = p.add_mutually_exclusive_group()
    limits.add_argument("--plan", choices=sorted(PLAN_RPM), default="pro", help="rate-limit plan")
    limits.add_argument("--rpm", type=int, help="requests per minute per endpoint (0: no limit)")
    p.add_argument("--rate-window", type=float, default=60.0, help="rate-limit window, seconds")
    p.add_argument(
        "--latency",
        action="extend",
        nargs="+",
        default=[],
        metavar="FAMILY=DIST",
        help="e.g. generation=lognormal:6,0.5 edit=fixed:2 '*=uniform:1,3'",
    )
    faults = p.add_argument_group("faults (probabilities per request)")
    faults.add_argument("--fault-5xx", type=_rate, default=0.0, help="answer 503")
    faults.add_argument("--fault-drop", type=_rate, default=0.0, help="drop before processing")
    faults.add_argument("--fault-drop-after", type=_rate, default=0.0, help="drop after processing")
    faults.add_argument("--fault-error", type=_rate, default=0.0, help="job ends ERROR")
    faults.add_argument("--fault-unknown", type=_rate, default=0.0, help="job ends UNKNOWN")
    faults.add_argument("--fault-slow", type=_rate, default=0.0, help="answer late")
    faults.add_argument("--slow-seconds", type=float, default=2.0, help="delay of --fault-slow")
    faults.add_argument(
        "--fault-on", choices=["any", "submits", "status"], default="any", help="fault scope"
    )
    p.add_argument("--result-ttl", type=float, help="life of result URLs, seconds (3 days)")
    p.add_argument("--v1-result-ttl", type=float, help="life of v1 result URLs, seconds (1 h)")
    p.add_argument("--seed", type=int, help="seed for latencies, job seeds and faults")
    p.add_argument("--output-megapixels", type=float, default=1.0, help="output size (1.0)")
    p.add_argument("--forbidden-token", help="a token answered with 403")
    p.add_argument("--moderation-trigger", default="[moderate]", help="text that fails moderation")
    p.add_argument("--training-seconds", type=float, default=60.0, help="tailored training time")
    p.add_argument("--string-codes", action="store_true", help="job error codes as strings")
    p.add_argument("--string-seeds", action="store_true", help="result seeds as strings")
    p.add_argument(
        "--webhook-retries",
        help="seconds before each webhook retry, comma-separated (default 30,120,600,1800)",
    )
    p.add_argument("--workers", type=int, default=4, help="job worker threads")
    p.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    p.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    p.add_argument("--log-level", default="warning")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The config the options describe (ValueError / ValidationError name the bad option)."""
    latency = dict(parse_latency_option(option) for option in args.latency)
    on = args.fault_on
    rules = [
        FaultRule(
            kind=kind,  # type: ignore[arg-type]
            rate=getattr(args, flag),
            on="submits" if kind in ("job_error", "job_unknown") else on,
            delay_s=args.slow_seconds,
        )
        for flag, kind in _FAULT_FLAGS.items()
        if getattr(args, flag)
    ]
    rpm = PLAN_RPM[args.plan] if args.rpm is None else (args.rpm or None)
    settings = {
        "host": args.host,
        "port": args.port,
        "rpm": rpm,
        "rate_window_s": args.rate_window,
        "latency": latency,
        "faults": rules,
        "seed": args.seed,
        "output_megapixels": args.output_megapixels,
        "forbidden_token": args.forbidden_token,
        "moderation_trigger": args.moderation_trigger,
        "training_seconds": args.training_seconds,
        "string_codes": args.string_codes,
        "string_seeds": args.string_seeds,
        "workers": args.workers,
    }
    if args.result_ttl is not None:
        settings["result_ttl_s"] = args.result_ttl
    if args.v1_result_ttl is not None:
        settings["v1_result_ttl_s"] = args.v1_result_ttl
    if args.webhook_retries is not None:
        delays = [float(d) for d in args.webhook_retries.split(",") if d.strip()]
        settings["webhook_retry_delays_s"] = delays
    return EmulatorConfig.model_validate(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, print the base URL, serve until interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValidationError as exc:
        first = exc.errors()[0]
        parser.error(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    except ValueError as exc:
        parser.error(str(exc))
    try:
        sock = bind(config.host, config.port)
    except OSError as exc:
        parser.error(f"--port: cannot bind {config.host}:{config.port}: {exc.strerror}")
    state = EmulatorState(config)
    state.base_url = config.public_url or url_of(sock)
    server = uvicorn_server(state, http=args.http, loop=args.loop, log_level=args.log_level)
    limit = f"{config.rpm} rpm" if config.rpm else "no rate limit"
    print(f"Bria emulator on {state.base_url} ({limit}); Ctrl+C stops it", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        asyncio.run(state.aclose())
    return 0


if __name__ == "__main__":
    sys.exit(main())

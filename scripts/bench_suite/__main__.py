"""`scripts/bench`: run every benchmark and write the figures into docs/benchmarks.md.

Steps (all by default; `--steps` picks some): gateway (JSON at several concurrencies), stream
(time to first byte), memory, profile (py-spy: where a message's CPU goes), concurrency (a
thousand open streams against two workers), roundtrips (and what each database command costs),
features (what credits, API keys and own provider keys add per message), middleout.
Each spawned process is stopped at the end.
"""

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_suite import (
    concurrency,
    dbcost,
    features,
    gateway,
    memory,
    middleout,
    profile,
    report,
    roundtrips,
    stack,
    wrk,
)

HTTP_STEPS = ("gateway", "stream", "memory")
CONCURRENCY_STEPS = ("concurrency", "profile")
INPROCESS_STEPS = ("roundtrips", "features", "middleout")
STEPS = HTTP_STEPS + CONCURRENCY_STEPS + INPROCESS_STEPS
REPO = stack.SCRIPTS_DIR.parent


def log(message: str) -> None:
    print(message, flush=True)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--steps", default=",".join(STEPS), help=f"some of {','.join(STEPS)}")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per target")
    parser.add_argument("--concurrency", default="1,10,50", help="JSON concurrencies")
    parser.add_argument("--users", type=int, default=20, help="simplechat users chatting")
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument("--streams", type=int, default=1000, help="concurrency: open streams")
    parser.add_argument("--ramp", type=float, default=5.0, help="concurrency: seconds to open them")
    parser.add_argument("--quick", action="store_true", help="short smoke run (not for the doc)")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch the doc")
    parser.add_argument("--json", type=Path, help="also save the raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds, args.memory_requests = 1.0, 1, 2000
        args.streams, args.ramp = min(args.streams, 200), min(args.ramp, 2.0)
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = set(args.steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    return args


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    generator = "python (aiohttp)"
    if wrk.available():
        version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
        generator = (version.split("Copyright")[0].strip() or "wrk") + " (JSON); python for SSE"
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "generator": generator,
    }


def _targets(
    upstream: stack.Service,
    proxies: list[stack.Service],
    simplechat: stack.Service,
    db_pid: int,
    tokens: list[str],
    streaming: bool,
) -> list[gateway.Target]:
    upstream_stream = json.dumps({**json.loads(gateway.UPSTREAM_BODY), "stream": True})
    targets = [
        gateway.Target(
            "direct",
            upstream.base_url + "/v1/chat/completions",
            gateway.UPSTREAM_BODY,
            upstream_stream,
            {"app": upstream.pid},
        )
    ]
    for proxy in proxies:
        targets.append(
            gateway.Target(
                proxy.name,
                proxy.base_url + "/v1/chat/completions",
                gateway.UPSTREAM_BODY,
                upstream_stream,
                {"app": proxy.pid, "upstream": upstream.pid},
            )
        )
    stream_body = json.dumps({**json.loads(gateway.SIMPLECHAT_BODY), "stream": True})
    targets.append(
        gateway.Target(
            "simplechat",
            simplechat.base_url + "/llm/message",
            gateway.SIMPLECHAT_BODY,
            stream_body if streaming else None,
            {"app": simplechat.pid, "db": db_pid, "upstream": upstream.pid},
            tokens,
        )
    )
    return targets


def run_http_steps(args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> None:
    with ExitStack() as stop:
        upstream = stack.start_upstream(workdir, chunk_gap_ms=5.0)
        stop.callback(upstream.stop)
        proxies = []
        for client in ("aiohttp", "httpx"):
            proxy = stack.start_proxy(workdir, upstream, client)
            stop.callback(proxy.stop)
            proxies.append(proxy)
        env = stack.simplechat_env(workdir, upstream)
        simplechat = stack.start_simplechat(workdir, env)
        stop.callback(simplechat.stop)
        (db_pid,) = stack.child_pids(simplechat.pid)
        log(f"simplechat pid {simplechat.pid}, its embedded database pid {db_pid}")
        tokens = stack.create_users(simplechat, args.users)
        streaming = stack.streams(simplechat, tokens[0])
        results["simplechat_streams"] = streaming
        targets = _targets(upstream, proxies, simplechat, db_pid, tokens, streaming)
        log("warming up (every user gets a history longer than a prompt's history cap)")
        for target in targets:
            duration = 1.0 if target.name != "simplechat" else max(2.0, args.duration)
            gateway.measure(target, 20, duration, workdir)
        if "gateway" in args.steps:
            log("gateway: JSON requests")
            concurrencies = [int(c) for c in args.concurrency.split(",")]
            results["gateway"] = gateway.run_matrix(
                targets, concurrencies, args.rounds, args.duration, workdir, log=log
            )
        if "stream" in args.steps:
            log("stream: time to first byte at concurrency 1 and 10")
            streamable = [t for t in targets if t.stream_body is not None]
            results["stream"] = gateway.run_matrix(
                streamable, [1, 10], args.rounds, args.duration, workdir, stream=True, log=log
            )
        if "memory" in args.steps:
            simplechat.stop()
            log("memory: a fresh worker")
            fresh = stack.start_simplechat(workdir, env)
            stop.callback(fresh.stop)
            results["memory"] = memory.run(
                fresh, tokens, args.memory_requests, args.memory_requests // 10, 10, log=log
            )


def run_concurrency_steps(args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> None:
    """The steps that start a simplechat of their own."""
    if "profile" in args.steps:
        log("profile: py-spy on the worker and the database, /llm/message at concurrency 10")
        results["profile"] = profile.run(workdir, args.users, max(4.0, 2 * args.duration), log)
    if "concurrency" in args.steps:
        log(f"concurrency: {args.streams} streams of 5 s against simplechat serve --workers 2")
        results["concurrency"] = concurrency.run(
            workdir, streams=args.streams, ramp=args.ramp, users=args.users, log=log
        )


def run_inprocess_steps(args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> None:
    with ExitStack() as stop:
        database = stack.start_database(workdir)
        stop.callback(database.stop)
        if "roundtrips" in args.steps:
            upstream = stack.start_upstream(workdir, chunk_gap_ms=0.0)
            stop.callback(upstream.stop)
            log("roundtrips: database commands per chat message")
            results["roundtrips"] = {
                "json": roundtrips.count_round_trips(
                    database.uri, upstream, workdir, db_pid=database.pid
                )
            }
            if results.get("simplechat_streams"):
                results["roundtrips"]["stream"] = roundtrips.count_round_trips(
                    database.uri, upstream, workdir, stream=True, db_pid=database.pid
                )
            log(f"  {results['roundtrips']['json']['total']:.1f} per message")
            log("roundtrips: what each command costs the database, one at a time")
            assert database.pid is not None
            results["dbcost"] = dbcost.run(database.uri, database.pid)
        if "features" in args.steps:
            upstream = stack.start_upstream(workdir, chunk_gap_ms=0.0)
            stop.callback(upstream.stop)
            log("features: what credits, API keys and own provider keys add per message")
            results["features"] = features.run(database.uri, upstream, workdir, database.pid)
            for row in results["features"]:
                log(
                    f"  {row['variant']}: {row['round_trips']:.1f} round trips, "
                    f"{row['app_cpu_ms']:.2f} ms app CPU"
                )
        if "middleout" in args.steps:
            log("middleout: prompt building for 10k/100k/1M-token histories")
            assert database.pid is not None
            results["middleout"] = middleout.run(database.uri, database.pid, repeats=9)


def main() -> int:
    args = _parse()
    logging.basicConfig(level=logging.WARNING)  # the in-process app then keeps quiet
    workdir = Path(tempfile.mkdtemp(prefix="simplechat-bench-"))
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "settings": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "users": args.users,
            "quick": args.quick,
        },
    }
    if not wrk.available():
        log("wrk is not installed (apt-get install wrk): using the Python load generator")
    try:
        groups = (
            (HTTP_STEPS, run_http_steps),
            (CONCURRENCY_STEPS, run_concurrency_steps),
            (INPROCESS_STEPS, run_inprocess_steps),
        )
        for group, run in groups:
            if set(group) & set(args.steps):
                try:
                    run(args, workdir, results)
                except Exception as exc:  # keep what the other steps measured
                    log(f"FAILED: {', '.join(group)}: {exc!r}")
                    results.setdefault("failures", []).append(f"{'/'.join(group)}: {exc!r}")
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["machine"]["load_average_end"] = os.getloadavg()
    results["elapsed_s"] = time.monotonic() - started
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    markdown = report.render(results)
    print(markdown)
    if results.get("failures"):
        log("some steps failed (see above): the doc is not rewritten")
        return 1
    if set(args.steps) != set(STEPS):
        log("a partial run: the doc is not rewritten")
    elif not args.no_write and not args.quick:
        report.write(args.output, markdown)
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

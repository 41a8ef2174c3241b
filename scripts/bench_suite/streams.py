"""Many concurrent streams from one client process: `python -m bench_suite.streams ...`.

Opens `--count` streaming requests, started evenly over `--ramp` seconds (all at once with 0),
each on its own connection, reads every Server-Sent Event to the end and times, per stream, the
first `data:` event (time to first byte) and the whole stream. Prints one JSON object: streams
completed, errors and statuses, the most streams open at once, events received, and the
percentiles of both times in milliseconds.
"""

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import uvloop

from bench_suite.load import percentile


@dataclass
class Tally:
    ttfbs: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    first_error: str = ""
    events: int = 0
    open: int = 0
    peak_open: int = 0
    open_at_end_of_ramp: int = 0


async def one_stream(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], tally: Tally
) -> None:
    started = time.perf_counter()
    tally.open += 1
    tally.peak_open = max(tally.peak_open, tally.open)
    try:
        async with session.post(url, data=body, headers=headers) as response:
            tally.statuses[response.status] = tally.statuses.get(response.status, 0) + 1
            if response.status != 200:
                tally.first_error = (
                    tally.first_error or f"{response.status} {await response.text()}"
                )
                return
            first: float | None = None
            async for line in response.content:
                if line.startswith(b"data:") and not line.startswith(b"data: [DONE]"):
                    tally.events += 1
                    if first is None:
                        first = time.perf_counter()
            if first is not None:
                tally.ttfbs.append((first - started) * 1000)
            tally.totals.append((time.perf_counter() - started) * 1000)
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.errors += 1
        tally.first_error = tally.first_error or repr(exc)
    finally:
        tally.open -= 1


def _stats(values: list[float]) -> dict[str, float | None]:
    return {f"p{p}_ms": percentile(values, p) for p in (50, 90, 99)} | {
        "max_ms": max(values, default=None)
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    body = args.body.encode()
    tokens: list[str] = json.loads(args.tokens) if args.tokens else []
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0, force_close=True)  # one connection per stream
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    gap = args.ramp / args.count if args.count else 0.0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        tasks = []
        for n in range(args.count):
            delay = started + n * gap - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            headers = {"content-type": "application/json", "accept": "text/event-stream"}
            if tokens:
                headers["authorization"] = f"Bearer {tokens[n % len(tokens)]}"
            tasks.append(asyncio.create_task(one_stream(session, args.url, body, headers, tally)))
        tally.open_at_end_of_ramp = tally.open
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {
        "streams": args.count,
        "completed": len(tally.totals),
        "errors": tally.errors,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "first_error": tally.first_error[:300],
        "peak_open": tally.peak_open,
        "open_at_end_of_ramp": tally.open_at_end_of_ramp,
        "events": tally.events,
        "elapsed_s": elapsed,
        "ttfb": _stats(tally.ttfbs),
        "total": _stats(tally.totals),
    }


def raise_open_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="the JSON request body")
    parser.add_argument("--tokens", default="", help="JSON list of Bearer tokens, used in turn")
    parser.add_argument("--count", type=int, required=True, help="streams to open")
    parser.add_argument("--ramp", type=float, default=0.0, help="seconds to start them over")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    raise_open_file_limit()
    json.dump(uvloop.run(run(args)), sys.stdout)


if __name__ == "__main__":
    main()

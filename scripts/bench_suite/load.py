"""The Python load generator, run in its own process: `python -m bench_suite.load ...`.

Used where wrk cannot help: streaming time to first byte, a fixed number of requests (the
memory step), and as the fallback when wrk is not installed. `--concurrency` connections each
send requests back to back, for `--duration` seconds or until `--count` requests are done.
Prints one JSON object: requests, errors, statuses, elapsed seconds, and latency (and, for
streams, time to first event) percentiles in milliseconds.
"""

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from itertools import count as counter
from typing import Any

import aiohttp


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    first_error: str = ""


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def one_request(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: dict[str, str],
    stream: bool,
    tally: Tally,
) -> None:
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            tally.statuses[response.status] = tally.statuses.get(response.status, 0) + 1
            if stream and response.status == 200:
                first: float | None = None
                async for line in response.content:
                    if first is None and line.startswith(b"data:"):
                        first = time.perf_counter()
                if first is not None:
                    tally.ttfbs.append((first - started) * 1000)
            else:
                await response.read()
            if response.status >= 400 and not tally.first_error:
                tally.first_error = f"{response.status}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.errors += 1
        tally.first_error = tally.first_error or repr(exc)
        return
    tally.latencies.append((time.perf_counter() - started) * 1000)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    body = args.body.encode()
    tokens: list[str] = json.loads(args.tokens) if args.tokens else []
    tally = Tally()
    sequence = counter()
    deadline = time.perf_counter() + args.duration if args.duration else None
    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.timeout)

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            n = next(sequence)
            if args.count and n >= args.count:
                return
            if deadline is not None and time.perf_counter() >= deadline:
                return
            headers = {"content-type": "application/json"}
            if tokens:
                headers["authorization"] = f"Bearer {tokens[n % len(tokens)]}"
            await one_request(session, args.url, body, headers, args.stream, tally)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    done = len(tally.latencies)
    return {
        "requests": done,
        "errors": tally.errors,
        "non_2xx": sum(n for status, n in tally.statuses.items() if status >= 300),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "first_error": tally.first_error,
        "elapsed_s": elapsed,
        "rps": done / elapsed if elapsed else 0.0,
        "p50_ms": percentile(tally.latencies, 50),
        "p99_ms": percentile(tally.latencies, 99),
        "ttfb_p50_ms": percentile(tally.ttfbs, 50),
        "ttfb_p99_ms": percentile(tally.ttfbs, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="the JSON request body")
    parser.add_argument("--tokens", default="", help="JSON list of Bearer tokens, used in turn")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=0.0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--stream", action="store_true", help="read SSE, time the first event")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    if not args.duration and not args.count:
        parser.error("give --duration or --count")
    json.dump(asyncio.run(run(args)), sys.stdout)


if __name__ == "__main__":
    main()

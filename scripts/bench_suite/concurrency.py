"""Concurrency: a thousand open streams against `simplechat serve --workers 2`.

The fake upstream streams 5-second answers (50 words, one every 100 ms). A client in its own
process (`bench_suite.streams`) opens `streams` of them, started evenly over `ramp` seconds,
first straight at the upstream (its own times: the floor), then through simplechat. Reported:
streams completed, errors, the most open at once (as the client and as the upstream saw them),
time to first byte and whole-stream time against the upstream's own, the workers' resident
memory per open stream, and CPU per streamed chunk (workers) and per stream (database).
"""

import json
import subprocess
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench_suite import stack
from bench_suite.gateway import UPSTREAM_BODY, USER_TEXT
from bench_suite.procstat import CpuMeter, rss_mb

STREAM_SECONDS = 5.0
CHUNK_MS = 100.0
WARMUP_STREAMS = 40
RSS_SAMPLE_SECONDS = 0.2


def stream_load(url: str, body: str, tokens: list[str], count: int, ramp: float) -> dict[str, Any]:
    """Run the streams client in its own process and return its JSON summary."""
    command = [sys.executable, "-m", "bench_suite.streams", "--url", url, "--body", body]
    command += ["--tokens", json.dumps(tokens), "--count", str(count), "--ramp", str(ramp)]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=stack.SCRIPTS_DIR
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


class PeakRss:
    """Samples the summed resident size of some processes in a thread; keeps the peak."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        self._stop = threading.Event()
        self.peak_mb = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def total_mb(self) -> float:
        return sum(rss_mb(pid) for pid in self._pids)

    def _sample(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_SECONDS):
            self.peak_mb = max(self.peak_mb, self.total_mb())

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def upstream_stats(upstream: stack.Service) -> dict[str, int]:
    stats: dict[str, int] = httpx.get(upstream.base_url + "/stats", timeout=10).json()
    return stats


def _simplechat(workdir: Path, upstream: stack.Service) -> tuple[stack.Service, dict[str, str]]:
    env = stack.simplechat_env(workdir, upstream)
    env["SIMPLECHAT_DATA_DIR"] = str(workdir / "data-concurrency")
    return stack.start_simplechat(workdir, env, workers=2), env


def run(
    workdir: Path, *, streams: int, ramp: float, users: int, log: Any = print
) -> dict[str, Any]:
    words = round(STREAM_SECONDS * 1000 / CHUNK_MS)
    with ExitStack() as stop:
        upstream = stack.start_upstream(workdir, chunk_gap_ms=CHUNK_MS, words=words)
        stop.callback(upstream.stop)
        simplechat, _ = _simplechat(workdir, upstream)
        stop.callback(simplechat.stop)
        roles = stack.serve_roles(simplechat.pid)
        workers, (db_pid,) = roles["workers"], roles["db"]
        log(f"  simplechat serve pid {simplechat.pid}: workers {workers}, database {db_pid}")
        tokens = stack.create_users(simplechat, users)
        url = simplechat.base_url + "/llm/message"
        body = json.dumps({"message": USER_TEXT, "stream": True})
        stream_load(url, body, tokens, WARMUP_STREAMS, 1.0)
        log(f"  the upstream's own: {streams} streams started over {ramp:g} s")
        upstream_body = json.dumps({**json.loads(UPSTREAM_BODY), "stream": True})
        direct = stream_load(
            upstream.base_url + "/v1/chat/completions", upstream_body, [], streams, ramp
        )
        upstream_stats(upstream)  # resets the upstream's peak
        log(f"  through simplechat (2 workers): {streams} streams started over {ramp:g} s")
        pids = {f"worker{i}": pid for i, pid in enumerate(workers)} | {"db": db_pid}
        meter = CpuMeter(pids | {"upstream": upstream.pid})
        with PeakRss(workers) as memory:
            idle_mb = memory.total_mb()
            meter.start()
            through = stream_load(url, body, tokens, streams, ramp)
            cpu = meter.stop()
        seen = upstream_stats(upstream)
    worker_cpu = sum(v for k, v in cpu.items() if k.startswith("worker"))
    completed = through["completed"] or 1
    return {
        "streams": streams,
        "ramp_s": ramp,
        "stream_seconds": STREAM_SECONDS,
        "chunk_ms": CHUNK_MS,
        "direct": direct,
        "simplechat": through,
        "upstream_peak_streams": seen["peak_streams"],
        "workers_idle_mb": idle_mb,
        "workers_peak_mb": memory.peak_mb,
        "mb_per_open_stream": (memory.peak_mb - idle_mb) / max(1, through["peak_open"]),
        "worker_cpu_s": worker_cpu,
        "db_cpu_s": cpu["db"],
        "upstream_cpu_s": cpu["upstream"],
        "worker_cpu_ms_per_chunk": 1000 * worker_cpu / max(1, through["events"]),
        "worker_cpu_ms_per_stream": 1000 * worker_cpu / completed,
        "db_cpu_ms_per_stream": 1000 * cpu["db"] / completed,
    }


# --- the report ---

Row = tuple[str, str, str, bool | None]


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def target_rows(result: dict[str, Any] | None) -> list[Row]:
    names = (
        "concurrent 5-second streams against 2 workers, all complete",
        "time to first byte p50 with the streams open",
        "whole-stream time p50 against the upstream's own",
    )
    if result is None:
        return [
            (name, "not measured yet", goal, None) for name, goal in zip(names, GOALS, strict=True)
        ]
    ours, theirs = result["simplechat"], result["direct"]
    complete = ours["completed"] == result["streams"] and not ours["errors"]
    seen = (
        f"{ours['completed']:,} of {result['streams']:,} ({ours['errors']} errors); at most "
        f"{ours['peak_open']:,} open at once, {result['upstream_peak_streams']:,} at the upstream"
    )
    ttfb = ours["ttfb"]["p50_ms"]
    first = f"{_ms(ttfb)} ms (the upstream's own {theirs['ttfb']['p50_ms']:.1f} ms)"
    total, floor = ours["total"]["p50_ms"], theirs["total"]["p50_ms"]
    ratio = total / floor - 1 if total and floor else None
    whole = f"{_ms(total)} vs {_ms(floor)} ms" + ("" if ratio is None else f" = +{ratio:.0%}")
    return [
        (names[0], seen, GOALS[0], complete and result["streams"] >= 1000),
        (names[1], first, GOALS[1], None if ttfb is None else ttfb < 100),
        (names[2], whole, GOALS[2], None if ratio is None else ratio <= 0.10),
    ]


GOALS = ("1,000, none lost", "< 100 ms", "within 10 %")


def lines(result: dict[str, Any]) -> list[str]:
    out = ["", "### Concurrency: open streams", ""]
    out.append(
        f"{result['streams']:,} streams of {result['stream_seconds']:.0f} s (a chunk every "
        f"{result['chunk_ms']:.0f} ms), started evenly over {result['ramp_s']:g} s by one client "
        "process, first straight at the upstream, then through `simplechat serve --workers 2`."
    )
    out += ["", "| target | completed | errors | most open at once | TTFB p50 / p90 / p99 ms "
            "| whole stream p50 / p90 / p99 ms |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, key in (("upstream (direct)", "direct"), ("simplechat", "simplechat")):
        r = result[key]
        ttfb = " / ".join(_ms(r["ttfb"][f"p{p}_ms"]) for p in (50, 90, 99))
        total = " / ".join(_ms(r["total"][f"p{p}_ms"]) for p in (50, 90, 99))
        cells = [name, f"{r['completed']:,}", str(r["errors"]), f"{r['peak_open']:,}", ttfb, total]
        out.append("| " + " | ".join(cells) + " |")
    out += [
        "",
        f"Workers' resident memory: {result['workers_idle_mb']:.0f} MB before, "
        f"{result['workers_peak_mb']:.0f} MB at the peak: **{result['mb_per_open_stream']:.3f} MB "
        "per open stream**. CPU: the workers **"
        f"{result['worker_cpu_ms_per_chunk']:.3f} ms per chunk streamed** "
        f"({result['worker_cpu_ms_per_stream']:.1f} ms per whole stream, starting it included), "
        f"the database {result['db_cpu_ms_per_stream']:.2f} ms per stream, the upstream "
        f"{1000 * result['upstream_cpu_s'] / max(1, result['streams']):.2f} ms per stream.",
    ]
    return out

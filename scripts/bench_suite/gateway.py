"""Gateway overhead: the upstream directly, the pass-through floor and simplechat, measured
in one run, alternating, at several concurrencies; CPU time per request of each process apart."""

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_suite import wrk
from bench_suite.procstat import CpuMeter
from bench_suite.stack import SCRIPTS_DIR

USER_TEXT = "hi, how are you today?"
UPSTREAM_BODY = json.dumps(
    {
        "model": "bench-upstream",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": USER_TEXT},
        ],
        "max_tokens": 512,
    }
)
SIMPLECHAT_BODY = json.dumps({"message": USER_TEXT})


@dataclass
class Target:
    name: str
    url: str
    body: str
    stream_body: str | None
    pids: dict[str, int]  # role ("app", "db", "upstream") -> pid whose CPU is counted
    tokens: list[str] = field(default_factory=list)


@dataclass
class Sample:
    requests: int
    elapsed_s: float
    errors: int
    non_2xx: int
    p50_ms: float | None
    p99_ms: float | None
    cpu_s: dict[str, float]
    ttfb_p50_ms: float | None = None
    ttfb_p99_ms: float | None = None


def python_load(
    url: str,
    body: str,
    tokens: list[str],
    concurrency: int,
    *,
    duration: float = 0.0,
    count: int = 0,
    stream: bool = False,
) -> dict[str, Any]:
    """Run the Python load generator in its own process and return its JSON summary."""
    command = [
        sys.executable,
        "-m",
        "bench_suite.load",
        "--url",
        url,
        "--body",
        body,
        "--tokens",
        json.dumps(tokens),
        "--concurrency",
        str(concurrency),
    ]
    if duration:
        command += ["--duration", str(duration)]
    if count:
        command += ["--count", str(count)]
    if stream:
        command.append("--stream")
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=SCRIPTS_DIR)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(
    target: Target, concurrency: int, duration: float, workdir: Path, *, stream: bool = False
) -> Sample:
    meter = CpuMeter(target.pids)
    meter.start()
    if stream:
        assert target.stream_body is not None
        raw = python_load(
            target.url,
            target.stream_body,
            target.tokens,
            concurrency,
            duration=duration,
            stream=True,
        )
    elif wrk.available():
        script = wrk.write_script(workdir / f"{target.name}.lua", target.body, target.tokens)
        raw = wrk.run(target.url, script, concurrency, duration)
    else:
        raw = python_load(target.url, target.body, target.tokens, concurrency, duration=duration)
    cpu = meter.stop()
    return Sample(
        requests=raw["requests"],
        elapsed_s=raw["elapsed_s"],
        errors=raw["errors"],
        non_2xx=raw["non_2xx"],
        p50_ms=raw["p50_ms"],
        p99_ms=raw["p99_ms"],
        cpu_s=cpu,
        ttfb_p50_ms=raw.get("ttfb_p50_ms"),
        ttfb_p99_ms=raw.get("ttfb_p99_ms"),
    )


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def combine(samples: list[Sample]) -> dict[str, Any]:
    """Rounds of one target at one concurrency: totals for rates, medians for percentiles."""
    requests = sum(s.requests for s in samples)
    elapsed = sum(s.elapsed_s for s in samples)
    roles = samples[0].cpu_s.keys()
    cpu_ms = {
        role: 1000 * sum(s.cpu_s[role] for s in samples) / requests if requests else None
        for role in roles
    }
    return {
        "requests": requests,
        "rps": requests / elapsed if elapsed else 0.0,
        "errors": sum(s.errors for s in samples),
        "non_2xx": sum(s.non_2xx for s in samples),
        "p50_ms": _median([s.p50_ms for s in samples]),
        "p99_ms": _median([s.p99_ms for s in samples]),
        "ttfb_p50_ms": _median([s.ttfb_p50_ms for s in samples]),
        "ttfb_p99_ms": _median([s.ttfb_p99_ms for s in samples]),
        "cpu_ms_per_request": cpu_ms,
    }


def _progress(name: str, concurrency: int, round_no: int, kind: str, sample: Sample) -> str:
    rate = sample.requests / sample.elapsed_s if sample.elapsed_s else 0.0
    line = f"  {kind} c={concurrency:<3} round {round_no + 1} {name:<14} {rate:8.0f} req/s"
    line += f"  p50 {sample.p50_ms or 0:7.2f} ms"
    if sample.ttfb_p50_ms is not None:
        line += f"  ttfb p50 {sample.ttfb_p50_ms:.2f} ms"
    if sample.errors or sample.non_2xx:
        line += f"  ERRORS {sample.errors} / non-2xx {sample.non_2xx}"
    return line


def run_matrix(
    targets: list[Target],
    concurrencies: list[int],
    rounds: int,
    duration: float,
    workdir: Path,
    *,
    stream: bool = False,
    log: Any = print,
) -> dict[str, dict[int, dict[str, Any]]]:
    """Every target at every concurrency, `rounds` times, targets alternating within a round."""
    samples: dict[tuple[str, int], list[Sample]] = {}
    for concurrency in concurrencies:
        for round_no in range(rounds):
            for target in targets:
                sample = measure(target, concurrency, duration, workdir, stream=stream)
                samples.setdefault((target.name, concurrency), []).append(sample)
                kind = "stream" if stream else "json"
                log(_progress(target.name, concurrency, round_no, kind, sample))
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for (name, concurrency), group in samples.items():
        results.setdefault(name, {})[concurrency] = combine(group)
    return results

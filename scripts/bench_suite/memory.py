"""Memory: resident size of a fresh simplechat worker over 10,000 chat requests, sampled every
1,000, and the growth trend (least-squares slope over the samples after the first)."""

from typing import Any

from bench_suite.gateway import SIMPLECHAT_BODY, python_load
from bench_suite.procstat import rss_mb
from bench_suite.stack import Service

WARMUP_REQUESTS = 200


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if not var:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var


def run(
    service: Service, tokens: list[str], total: int, every: int, concurrency: int, log: Any = print
) -> dict[str, Any]:
    url = service.base_url + "/llm/message"
    python_load(url, SIMPLECHAT_BODY, tokens, concurrency, count=WARMUP_REQUESTS)
    samples = [(0, rss_mb(service.pid))]
    errors = 0
    while samples[-1][0] < total:
        result = python_load(url, SIMPLECHAT_BODY, tokens, concurrency, count=every)
        errors += result["errors"] + result["non_2xx"]
        samples.append((samples[-1][0] + every, rss_mb(service.pid)))
        log(f"  memory after {samples[-1][0]:>6} requests: {samples[-1][1]:6.1f} MB")
    later = [(n / 1000, mb) for n, mb in samples[1:]]
    return {
        "samples": samples,
        "final_mb": samples[-1][1],
        "max_mb": max(mb for _, mb in samples),
        "slope_mb_per_1000": slope(later) if len(later) > 1 else 0.0,
        "errors": errors,
        "requests": total,
    }

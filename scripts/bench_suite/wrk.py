"""Running wrk (the C load generator from Debian) with a POST body and rotating Bearer tokens."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

LUA_TEMPLATE = """
local body = [==[{body}]==]
local tokens = {{{tokens}}}
local n = 0
wrk.method = "POST"
request = function()
  n = n + 1
  local headers = {{["Content-Type"] = "application/json"}}
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1]
  end
  return wrk.format("POST", nil, headers, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, \\"read\\": %d, " ..
    "\\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, " ..
    "\\"mean_us\\": %f, \\"max_us\\": %d}}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def write_script(path: Path, body: str, tokens: list[str]) -> Path:
    quoted = ", ".join(json.dumps(t) for t in tokens)
    path.write_text(LUA_TEMPLATE.format(body=body, tokens=quoted))
    return path


def run(url: str, script: Path, concurrency: int, duration: float) -> dict[str, Any]:
    """One wrk run; requests, errors and latency percentiles (ms) as a dict."""
    command = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    elapsed = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "requests": raw["requests"],
        "errors": errors,
        "non_2xx": raw["status"],
        "elapsed_s": elapsed,
        "rps": raw["requests"] / elapsed if elapsed else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
    }

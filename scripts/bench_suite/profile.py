"""Where the CPU of one `/llm/message` goes: py-spy samples of the simplechat worker and of the
embedded database under load (wrk, concurrency 10), sorted into components by the innermost
frame of each sample, and scaled to the CPU each process uses per message (from /proc, in a
run just before without py-spy, whose sampling costs the processes CPU of its own).

py-spy (`pip install py-spy`) reads the processes from outside; the database is sampled with
`--native`, so time inside SQLite and the C codecs shows as such. Only the main thread counts:
it does all the work in both (other threads only wait, and py-spy sees some waits as busy).
"""

import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench_suite import stack, wrk
from bench_suite.gateway import SIMPLECHAT_BODY, python_load
from bench_suite.procstat import CpuMeter

RATE = 250  # samples a second
CONCURRENCY = 10
APP_COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("database driver (pymongo, bson)", ("pymongo", "bson", "dns")),
    ("event loop and sockets (uvloop, asyncio)", ("asyncio", "uvloop", "selectors", "socket")),
    ("HTTP server (uvicorn, httptools)", ("uvicorn", "httptools", "h11")),
    ("web framework (FastAPI, Starlette)", ("fastapi", "starlette", "anyio")),
    ("validation and models (pydantic, Beanie)", ("pydantic", "pydantic_core", "beanie")),
    ("outbound HTTP (aiohttp)", ("aiohttp", "yarl", "multidict", "aiohappyeyeballs")),
    ("token counting (tiktoken)", ("tiktoken", "tiktoken_ext", "regex")),
    ("authentication (PyJWT)", ("jwt", "hmac", "hashlib", "base64")),
    ("JSON", ("json",)),
    ("logging", ("logging",)),
    ("metrics (prometheus_client)", ("prometheus_client",)),
    ("retries (tenacity)", ("tenacity",)),
    ("simplechat's own code", ("simplechat",)),
)
DB_COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite engine (libsqlite3)", ("libsqlite3",)),
    ("JSON documents (stored as JSON text)", ("_json.c", "json", "json_helpers")),
    ("BSON (wire encoding)", ("bson", "_cbsonmodule.c")),
    ("copies (projections)", ("copy",)),
    ("nx-27017 command handling", ("nx_27017", "simplechat")),
    ("neosqlite (queries to SQL, cursors)", ("neosqlite",)),
    ("event loop and sockets (uvloop, asyncio)", ("asyncio", "loop.c", "uvloop")),
)
OTHER = "other (standard library, interpreter)"


def _where(frame: str) -> tuple[str, bool]:
    """(the module path of a py-spy frame 'func (path:line)', whether it is Python code)."""
    location = frame.rsplit(" (", 1)[-1].rstrip(")")
    path = location.rsplit(":", 1)[0]
    if "simplechat/" in path:
        path = "simplechat/" + path.split("simplechat/", 1)[1]
    return path, path.endswith(".py") or path.startswith("<frozen")


def _component(frames: list[str], components: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """The component of a sample: its C library when the innermost frame is native code one
    of them names, else the package of its innermost Python frame."""
    leaf, _ = _where(frames[-1])
    candidates = [leaf, *[p for p, is_py in map(_where, reversed(frames)) if is_py][:1]]
    for path in candidates:
        parts = path.replace(".py", "").split("/")
        for name, packages in components:
            if any(p == part or part.startswith(p + ".so") for p in packages for part in parts[:2]):
                return name
            if any(path.startswith(p) for p in packages if p.startswith("lib") or "." in p):
                return name
    return OTHER


def shares(raw_file: Path, components: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, float]:
    """Fraction of the main thread's samples per component."""
    counts: Counter[str] = Counter()
    for line in raw_file.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        frames = stack_text.split(";")
        if not frames or "MainThread" not in frames[0]:
            continue
        counts[_component(frames[1:], components)] += int(count)
    total = sum(counts.values()) or 1
    return {name: n / total for name, n in counts.most_common()}


def run(workdir: Path, users: int, duration: float, log: Any = print) -> dict[str, Any] | None:
    spy = shutil.which("py-spy")
    if spy is None:
        log("  py-spy is not installed (pip install py-spy): no profile")
        return None
    upstream = stack.start_upstream(workdir, chunk_gap_ms=5.0)
    env = stack.simplechat_env(workdir, upstream)
    env["SIMPLECHAT_DATA_DIR"] = str(workdir / "data-profile")
    simplechat = stack.start_simplechat(workdir, env)
    try:
        (db_pid,) = stack.serve_roles(simplechat.pid)["db"]
        tokens = stack.create_users(simplechat, users)
        url = simplechat.base_url + "/llm/message"
        python_load(url, SIMPLECHAT_BODY, tokens, 20, duration=4.0)  # every history full
        script = wrk.write_script(workdir / "profile.lua", SIMPLECHAT_BODY, tokens)
        meter = CpuMeter({"app": simplechat.pid, "db": db_pid})
        meter.start()
        plain = wrk.run(url, script, CONCURRENCY, duration)
        cpu = meter.stop()
        outputs = {"app": workdir / "profile-app.txt", "db": workdir / "profile-db.txt"}
        spies = [
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(duration) + 2),
                    "--rate",
                    str(RATE),
                    "--format",
                    "raw",
                    "--threads",
                    "--output",
                    str(outputs[role]),
                    *extra,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for role, pid, extra in (("app", simplechat.pid, []), ("db", db_pid, ["--native"]))
        ]
        time.sleep(1.0)  # py-spy attaches
        sampled = wrk.run(url, script, CONCURRENCY, duration)
        for spy_process in spies:
            spy_process.wait(timeout=60)
    finally:
        simplechat.stop()
        upstream.stop()
    requests = plain["requests"] or 1
    return {
        "requests": sampled["requests"],
        "app": {
            "cpu_ms": 1000 * cpu["app"] / requests,
            "shares": shares(outputs["app"], APP_COMPONENTS),
        },
        "db": {
            "cpu_ms": 1000 * cpu["db"] / requests,
            "shares": shares(outputs["db"], DB_COMPONENTS),
        },
    }


def lines(profile: dict[str, Any]) -> list[str]:
    out = ["", "### Where the CPU of one message goes", ""]
    out.append(
        f"py-spy samples of the worker and of the embedded database during {profile['requests']:,} "
        f"`/llm/message` requests at concurrency {CONCURRENCY}, by the innermost frame of each "
        "sample, scaled to each process's CPU per message."
    )
    for role, title in (("app", "simplechat's worker"), ("db", "the embedded database")):
        part = profile[role]
        out += ["", f"{title}: **{part['cpu_ms']:.2f} ms of CPU per message**", ""]
        out += ["| component | share | ms per message |", "|---|---|---|"]
        for name, share in part["shares"].items():
            out.append(f"| {name} | {share:.0%} | {share * part['cpu_ms']:.3f} |")
    return out

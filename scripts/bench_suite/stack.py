"""The processes under test: the embedded database, the fake upstream, the pass-through
proxies and `simplechat serve`, each started here, watched by pid, and stopped here."""

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from simplechat.kit.embedded import EmbeddedMongo

SCRIPTS_DIR = Path(__file__).resolve().parent.parent
BENCH_MODEL = "bench-model"
JWT_SECRET = "bench-secret-" + "b" * 40
PASSWORD = "bench-password-123"
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _spawn(
    name: str, args: list[str], workdir: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=workdir,
        env=env or _clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def _clean_env() -> dict[str, str]:
    """This environment without provider keys or simplechat settings, plus the bench modules."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SIMPLECHAT_")
        and not k.endswith("_API_KEY")
        and not k.endswith("_BASE_URL")
        and k != "MONGODB_URI"
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS_DIR), env.get("PYTHONPATH")]))
    return env


def wait_ready(service: Service, path: str, method: str = "GET", body: bytes = b"") -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited; see its log in the work directory")
        try:
            response = httpx.request(method, service.base_url + path, content=body, timeout=2)
            if response.status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{service.name} did not answer in {START_TIMEOUT_SECONDS:.0f} s")


def start_database(workdir: Path) -> EmbeddedMongo:
    return EmbeddedMongo(workdir / "db").start()


def start_upstream(workdir: Path, chunk_gap_ms: float, words: int = 0) -> Service:
    """The fake upstream; `words` per streamed answer (0: its 7-word reply)."""
    port = free_port()
    args = ["-m", "bench_suite.upstream", "--port", str(port), "--chunk-gap-ms", str(chunk_gap_ms)]
    if words:
        args += ["--stream-words", str(words)]
    service = Service("upstream", _spawn("upstream", args, workdir), f"http://127.0.0.1:{port}")
    body = b'{"model": "m", "messages": []}'
    wait_ready(service, "/v1/chat/completions", "POST", body)
    return service


def start_proxy(workdir: Path, upstream: Service, client: str) -> Service:
    port = free_port()
    args = ["-m", "bench_suite.proxy", "--port", str(port), "--client", client]
    args += ["--upstream", upstream.base_url + "/v1"]
    name = f"proxy-{client}"
    service = Service(name, _spawn(name, args, workdir), f"http://127.0.0.1:{port}")
    body = b'{"model": "m", "messages": []}'
    wait_ready(service, "/v1/chat/completions", "POST", body)
    return service


def write_models_file(workdir: Path, price: dict[str, str] | None = None) -> Path:
    """The one model the bench uses: the fake upstream as an OpenAI-compatible server (free,
    or at `price` in credits per 1,000 tokens)."""
    workdir.mkdir(parents=True, exist_ok=True)
    models = workdir / "models.json"
    spec: dict[str, object] = {
        "name": BENCH_MODEL,
        "provider": "openai",
        "upstream_id": "bench-upstream",
        "context_window": 8192,
        "max_output_tokens": 512,
    }
    if price is not None:
        spec["price"] = price
    models.write_text(json.dumps([spec]))
    return models


def simplechat_env(workdir: Path, upstream: Service, database_uri: str = "") -> dict[str, str]:
    """The environment of `simplechat serve` under test; no `database_uri`: its embedded one."""
    env = _clean_env()
    if database_uri:
        env["MONGODB_URI"] = database_uri
    env.update(
        SIMPLECHAT_MONGODB_DB="bench",
        SIMPLECHAT_DATA_DIR=str(workdir / "data"),
        SIMPLECHAT_JWT_SECRET=JWT_SECRET,
        SIMPLECHAT_OPENAI_BASE_URL=upstream.base_url + "/v1",
        SIMPLECHAT_MODELS_FILE=str(write_models_file(workdir)),
        SIMPLECHAT_DEFAULT_MODEL=BENCH_MODEL,
        # limits out of the way: never refuse, but still counted on every message. 30 in any
        # second per user is 600 messages a second for 20 users; each allowed message is a
        # counter in the user's document, which every message reads and writes, so a limit of
        # 100 would make that document (and each message) dearer than any real setting does.
        SIMPLECHAT_DAILY_LIMIT="1000000000",
        SIMPLECHAT_BURST_LIMIT="30",
        SIMPLECHAT_BURST_WINDOW_SECONDS="1",
        SIMPLECHAT_IP_LIMIT="100000/minute",
        SIMPLECHAT_LOG_LEVEL="warning",
    )
    return env


def start_simplechat(workdir: Path, env: dict[str, str], workers: int = 1) -> Service:
    """`simplechat serve` with `workers` workers; with no MONGODB_URI in `env` it starts its own
    embedded database as a child process (see `child_pids` and `serve_roles`)."""
    port = free_port()
    args = ["-m", "simplechat", "serve", "--port", str(port), "--workers", str(workers)]
    process = _spawn("simplechat", args, workdir, env)
    service = Service("simplechat", process, f"http://127.0.0.1:{port}")
    wait_ready(service, "/healthz")
    return service


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid`, from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def serve_roles(pid: int) -> dict[str, list[int]]:
    """The children of `simplechat serve` (pid): its embedded database and, with --workers N,
    the worker processes (uvicorn spawns them with multiprocessing)."""
    roles: dict[str, list[int]] = {"db": [], "workers": []}
    for child in child_pids(pid):
        try:
            command = (Path("/proc") / str(child) / "cmdline").read_bytes()
        except OSError:
            continue
        if b"nx_server" in command or b"nx_27017" in command:
            roles["db"].append(child)
        elif b"spawn_main" in command and b"resource_tracker" not in command:
            roles["workers"].append(child)
    return roles


def create_users(service: Service, count: int) -> list[str]:
    """Sign up `count` users (or log in those that exist) and return their Bearer tokens."""
    tokens = []
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        for i in range(count):
            credentials = {"username": f"bench{i:03d}", "password": PASSWORD}
            client.post("/user/", json=credentials)  # 409 when a previous step made it
            response = client.post("/token", data=credentials)
            response.raise_for_status()
            tokens.append(response.json()["access_token"])
    return tokens


def streams(service: Service, token: str) -> bool:
    """Whether `POST /llm/message` answers `{"stream": true}` with an event stream."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"message": "are you streaming?", "stream": True}
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        response = client.post("/llm/message", json=body, headers=headers)
    return response.status_code == 200 and response.headers.get("content-type", "").startswith(
        "text/event-stream"
    )

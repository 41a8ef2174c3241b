"""kit.serving: a server that never started reports it (also with several workers, where
uvicorn itself returns normally), and the open-file limit is raised for the workers.

uvicorn installs signal handlers in the process that supervises workers, so each case runs in
a child process of its own."""

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import free_port

REPO = Path(__file__).resolve().parents[2]
RUN = """
import sys
from simplechat.kit import serving
served = serving.run(sys.argv[1], workers=int(sys.argv[2]), port=int(sys.argv[3]),
                     log_level="warning")
sys.exit(0 if served else serving.EXIT_STARTUP_FAILURE)
"""


@asynccontextmanager
async def _failing_lifespan(app: FastAPI) -> AsyncIterator[None]:
    raise RuntimeError("this app cannot start")
    yield  # pragma: no cover


def failing_app() -> FastAPI:
    """An app whose startup fails, as a worker's does when its database is gone."""
    return FastAPI(lifespan=_failing_lifespan)


def working_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    def root() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def run(factory: str, workers: int, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", RUN, f"tests.kit.test_serving:{factory}", str(workers), str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_start_exits_non_zero(workers: int) -> None:
    process = run("failing_app", workers, free_port())
    assert process.wait(timeout=60) == 3


def test_a_server_stopped_after_serving_exits_zero() -> None:
    port = free_port()
    process = run("working_app", 2, port)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not come up")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_open_file_limit_is_raised_to_the_hard_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip("needs a finite hard limit above 256")
    script = (
        "import resource; from simplechat.kit.serving import raise_open_file_limit; "
        "print(raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=lower,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [str(hard), str(hard)]

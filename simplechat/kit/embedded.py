"""The embedded MongoDB-wire server used when no MONGODB_URI is configured.

It runs the `nx-27017` package (SQLite-backed) as a child process on a free 127.0.0.1 port, with
its database file under the data directory, so data survives restarts. simplechat talks to it
over the real wire protocol with the real driver.
"""

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from pymongo import MongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger("simplechat.storage")

START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 5.0
DB_FILE_NAME = "simplechat.db"
# The child asks the kernel to stop it when simplechat exits, however simplechat exits (uvicorn
# re-raises SIGTERM after its shutdown, which skips `finally` blocks), and logs warnings only:
# the server's INFO lines describe every command, which costs CPU and disk.
_LAUNCH = """
import ctypes, logging, os, signal, sys
if sys.platform.startswith("linux"):
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(os.environ["SIMPLECHAT_EMBEDDED_PARENT"]):
        sys.exit(0)  # the parent is already gone
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
from nx_27017.nx_27017 import main
sys.argv[0] = "nx-27017"
main()
"""


class EmbeddedServerError(RuntimeError):
    """The embedded database could not be started."""


EMBEDDED_URI_ENV = "SIMPLECHAT_EMBEDDED_URI"
# Where a started server says it listens, so that a command run beside `simplechat serve`
# (`simplechat admin ...`) can use it: a second server on the same file refuses to start.
URI_FILE_NAME = "nx-27017.uri"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedMongo:
    """Start with `start()` (or `with EmbeddedMongo(dir) as server:`); `uri` says where it listens.

    `db_path` may be a file path or "memory" (used by tests that need a throwaway server).
    `port` 0 picks a free port at each start; give one to start again where it listened before.
    """

    def __init__(self, data_dir: Path, *, db_path: str | None = None, port: int = 0) -> None:
        self.data_dir = data_dir
        self.db_path = db_path or str(data_dir / DB_FILE_NAME)
        self.fixed_port = port
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> Self:
        """Start the child and wait until it answers. Call it from the main thread: the child
        is tied to the life of the thread that starts it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.fixed_port or _free_port()
        log_file = self.data_dir / "nx-27017.log"
        command = [
            sys.executable,
            "-c",
            _LAUNCH,
            "--db",
            self.db_path,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-file",
            str(log_file),
            "--pid-file",
            str(self.data_dir / "nx-27017.pid"),
        ]
        env = {**os.environ, "SIMPLECHAT_EMBEDDED_PARENT": str(os.getpid())}
        with open(self.data_dir / "nx-27017.out", "ab") as out:
            self._process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        self._wait_until_ready()
        (self.data_dir / URI_FILE_NAME).write_text(self.uri)
        log.info("storage.embedded.started port=%s db=%s", self.port, self.db_path)
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise EmbeddedServerError(
                    f"the embedded database exited with code {self._process.returncode}; "
                    f"see {self.data_dir / 'nx-27017.out'}"
                )
            if _answers(self.uri):
                return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedServerError("the embedded database did not answer in time")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        (self.data_dir / URI_FILE_NAME).unlink(missing_ok=True)
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.info("storage.embedded.stopped port=%s", self.port)

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(uri: str) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=300, connectTimeoutMS=300
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def running_uri(data_dir: Path) -> str | None:
    """The URI of an embedded server already serving `data_dir`, if one answers."""
    try:
        uri = (data_dir / URI_FILE_NAME).read_text().strip()
    except OSError:
        return None
    return uri if uri.startswith("mongodb://127.0.0.1:") and _answers(uri) else None


def attach_or_start(
    data_dir: Path, *, attach_running: bool = False
) -> tuple[str, EmbeddedMongo | None]:
    """The one way simplechat gets its embedded database: the server this process (or its
    parent, `simplechat serve`) already started, or a new one. Returns its URI and the server
    when it was started here (the caller stops it with `stop_started`).

    `attach_running` also uses a server another process (a running `simplechat serve`)
    started on the same data directory."""
    uri = os.environ.get(EMBEDDED_URI_ENV) or (running_uri(data_dir) if attach_running else None)
    if uri:
        log.info("storage.embedded.attached uri=%s", uri)
        return uri, None
    server = EmbeddedMongo(data_dir).start()
    os.environ[EMBEDDED_URI_ENV] = server.uri  # workers started from here attach to it
    return server.uri, server


def stop_started(server: EmbeddedMongo) -> None:
    if os.environ.get(EMBEDDED_URI_ENV) == server.uri:
        del os.environ[EMBEDDED_URI_ENV]
    server.stop()

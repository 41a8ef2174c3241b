"""The embedded MongoDB-wire server used when no MONGODB_URI is configured.

It runs the `nx-27017` package (SQLite-backed) as a child process on a free 127.0.0.1 port, with
its database file under the data directory, so data survives restarts. simplechat talks to it
over the real wire protocol with the real driver.

The process that starts it also supervises it (`attach_or_start`): should the server die
(killed, crashed), it is started again on the same file and the same port, with a backoff that
doubles from 0.1 s up to 5 s between failed attempts, so every worker's client reconnects by
itself; requests meanwhile get 503 `database_unavailable`, and nothing needs a restart.
"""

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from simplechat.kit.nx_server import PARENT_ENV

log = logging.getLogger("simplechat.storage")

START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 5.0
WATCH_INTERVAL_SECONDS = 0.2
RESTART_BACKOFF_SECONDS = 0.1  # doubled after each failed restart...
MAX_RESTART_BACKOFF_SECONDS = 5.0  # ...up to this
DB_FILE_NAME = "simplechat.db"


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
    `port` 0 picks a free port at the first start; later starts (a restart after it died) use
    the same port, so clients find it again. `supervise()` restarts it whenever it dies.
    """

    def __init__(self, data_dir: Path, *, db_path: str | None = None, port: int = 0) -> None:
        self.data_dir = data_dir
        self.db_path = db_path or str(data_dir / DB_FILE_NAME)
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._supervisor: _Supervisor | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> Self:
        """Start the child and wait until it answers. The child is tied to the life of the
        thread that starts it: call it from the main thread (restarts come from the
        supervisor's thread, which lives as long as the supervision)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        log_file = self.data_dir / "nx-27017.log"
        command = [
            sys.executable,
            "-m",
            "simplechat.kit.nx_server",  # nx-27017's main, adjusted (see that module)
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
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
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
        self._stop_process()
        raise EmbeddedServerError("the embedded database did not answer in time")

    def supervise(self) -> Self:
        """Restart the server whenever it dies, until `stop()`."""
        if self._supervisor is None:
            self._supervisor = _Supervisor(self)
            self._supervisor.start()
        return self

    @property
    def restarts(self) -> int:
        """How many times the supervisor started the server again."""
        return self._supervisor.restarts if self._supervisor is not None else 0

    def stop(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.stop()
        self._stop_process()

    def _stop_process(self) -> None:
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

    @property
    def exit_code(self) -> int | None:
        """How the server's last process ended (negative: the signal); None while it runs."""
        return self._process.returncode if self._process is not None else None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Supervisor:
    """A thread that starts the server again whenever its process has ended."""

    def __init__(self, server: EmbeddedMongo) -> None:
        self._server = server
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="simplechat-embedded-db", daemon=True
        )
        self.restarts = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _watch(self) -> None:
        # Nothing may end this thread but stop(): a server it started dies with it.
        while not self._stopping.wait(WATCH_INTERVAL_SECONDS):
            try:
                if not self._server.running:
                    self._restart()
            except Exception:
                log.exception("storage.embedded.supervisor_error")

    def _restart(self) -> None:
        server, delay = self._server, RESTART_BACKOFF_SECONDS
        log.error("storage.embedded.died exit_code=%s port=%s: starting it again",
                  server.exit_code, server.port)  # fmt: skip
        while not self._stopping.is_set():
            try:
                server.start()
            except EmbeddedServerError as exc:
                log.error("storage.embedded.restart_failed retry_in_s=%.1f error=%s", delay, exc)
                if self._stopping.wait(delay):
                    return
                delay = min(2 * delay, MAX_RESTART_BACKOFF_SECONDS)
                continue
            self.restarts += 1
            log.warning(
                "storage.embedded.restarted port=%s restarts=%s", server.port, self.restarts
            )
            return


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
    parent, `simplechat serve`) already started, or a new one, supervised (restarted should
    it die). Returns its URI and the server when it was started here (the caller stops it
    with `stop_started`).

    `attach_running` also uses a server another process (a running `simplechat serve`)
    started on the same data directory."""
    uri = os.environ.get(EMBEDDED_URI_ENV) or (running_uri(data_dir) if attach_running else None)
    if uri:
        log.info("storage.embedded.attached uri=%s", uri)
        return uri, None
    server = EmbeddedMongo(data_dir).start().supervise()
    os.environ[EMBEDDED_URI_ENV] = server.uri  # workers started from here attach to it
    return server.uri, server


def stop_started(server: EmbeddedMongo) -> None:
    if os.environ.get(EMBEDDED_URI_ENV) == server.uri:
        del os.environ[EMBEDDED_URI_ENV]
    server.stop()

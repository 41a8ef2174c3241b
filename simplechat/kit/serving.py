"""Running the ASGI app under uvicorn so that a process supervisor (systemd, Docker, Kubernetes)
sees a failure as a failure.

`uvicorn.run(..., workers=N)` returns normally, so the command exits 0, when a worker fails to
start and uvicorn gives up; `run` reports whether the server ever served instead. It also raises
the open-file limit: every open stream holds two sockets (the client's and the provider's), and
many systems start processes with a soft limit of 1,024.
"""

import logging
import resource
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

log = logging.getLogger("simplechat")

# What `simplechat serve` exits with when it could not start; uvicorn uses the same number.
EXIT_STARTUP_FAILURE = STARTUP_FAILURE


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (workers inherit it);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):  # some sandboxes refuse; the old limit stays
        log.warning("simplechat.open_files limit=%s could_not_raise_to=%s", soft, hard)
        return soft
    log.info("simplechat.open_files limit=%s (was %s)", hard, soft)
    return hard


def run(app: str, *, workers: int, **options: Any) -> bool:
    """Serve the app factory `app` ("module:function") until stopped; True when it served.

    False when it never started serving: the app's startup failed, the address was taken, or
    (with several workers) a worker failed to start and uvicorn stopped them all.
    """
    config = uvicorn.Config(app, factory=True, workers=workers, **options)
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        return server.started
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    # uvicorn stops every worker when one exits with STARTUP_FAILURE before serving; that
    # worker stays in the list with its exit code.
    return not any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)

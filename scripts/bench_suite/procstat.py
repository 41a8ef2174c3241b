"""CPU time and resident size of a process, read from /proc (Linux)."""

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of every thread of `pid` so far."""
    with open(f"/proc/{pid}/stat") as handle:
        stat = handle.read()
    # the command name (field 2) may hold spaces: split after its closing parenthesis
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid` so far, in nanoseconds (the scheduler's own account,
    precise where /proc/<pid>/stat counts 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a thread that just ended
            continue
    return total


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as handle:
        resident_pages = int(handle.read().split()[1])
    return resident_pages * PAGE_SIZE / 1e6


@dataclass
class CpuMeter:
    """CPU seconds used by several named processes between `start()` and `stop()`."""

    pids: dict[str, int]

    def start(self) -> None:
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self._before[name] for name, pid in self.pids.items()}

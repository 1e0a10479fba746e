"""Start and stop the servers under test, and read their CPU time and memory from /proc.

A server is a process tree (gunicorn's master and workers; node and its threads):
CPU time is utime + stime of every live process in the tree plus what reaped
children left in the parent's cutime/cstime; memory is each process's VmRSS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return raw[raw.rindex(")") + 2:].split()


def children(pid: int) -> list[int]:
    """Every live descendant of pid (depth first), from /proc/*/stat ppid fields."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree(pid: int) -> list[int]:
    return [pid, *children(pid)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the whole tree (live processes and reaped children)."""
    ticks = 0
    for member in tree(pid):
        fields = _stat(member)
        if fields:
            # Fields 14-17 of proc(5) (utime stime cutime cstime), counted from state = 3.
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / CLK_TCK


def run_seconds(pid: int) -> float:
    """CPU seconds of the live tree at nanosecond resolution (/proc/*/task/*/schedstat).

    Finer than cpu_seconds (clock ticks of 10 ms) but blind to exited threads: use it for
    short, per-request readings of servers whose threads live on.
    """
    total = 0
    for member in tree(pid):
        try:
            tasks = os.listdir(f"/proc/{member}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                total += int(Path(f"/proc/{member}/task/{task}/schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total / 1e9


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages divided among the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Memory:
    total_rss: int
    worker_rss: list[int]
    total_pss: int


@dataclass
class Server:
    """One server under test, started in its own process group."""

    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str
    log: Path
    cwd: str | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, timeout: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> Memory:
        """RSS of the tree; worker_rss lists the request-serving processes only."""
        members = tree(self.pid)
        workers = members[1:] or members  # gunicorn: the workers; node: the one process
        return Memory(
            total_rss=sum(rss_bytes(p) for p in members),
            worker_rss=[rss_bytes(p) for p in workers],
            total_pss=sum(pss_bytes(p) for p in members),
        )

    def stop(self, grace: float = 10) -> None:
        """End the server's process group: TERM, then KILL after grace seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        except ProcessLookupError:
            pass

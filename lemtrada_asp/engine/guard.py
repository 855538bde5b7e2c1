"""Bounds on time and memory for every program part that grounds or solves.

An edited KB can make clingo ground forever (``n(0). n(X+1) :- n(X).``) or search
forever. Grounding cannot be interrupted from Python: clingo's C++ holds the
thread. So a watchdog thread watches how long the program part running has run
(each grounding, solve, chunk from the workers or exhaustive analysis, not the
whole command: a long batch is many short parts); past --timeout, it says which
program part was running, flushes what was already written (whole lines: every
command writes a line at a time) and ends the process with exit status 3. Memory
is bounded with RLIMIT_AS in this process; worker processes inherit the limit,
and a breach (MemoryError, or clingo's std::bad_alloc) becomes the same kind of
message and exit status.

Every program part that grounds or solves runs inside ``running("...")``, so the
message names it: "grounding the decision program", "solving corrections",
"the exhaustive analysis".
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from .errors import LemtradaError

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_MEMORY_MB", "ResourceExhausted", "install", "running", "current", "memory_error", "time_limit"]

DEFAULT_TIMEOUT = 60.0  # seconds one program part may run; the shipped KB's longest (check-kb's analysis) takes ~1 s
DEFAULT_MEMORY_MB = 4096  # address space per process; the shipped KB runs in ~250 MB

WATCH_INTERVAL = 0.1  # seconds between the watchdog's looks at the parts running
FLUSH_WAIT = 1.0  # seconds the watchdog waits to flush what was written before it exits
EXIT_STATUS = 3  # the knowledge base could not be run: as a KB that does not load


class ResourceExhausted(LemtradaError):
    """Time or memory ran out while a program part was grounding or solving."""

    exit_status = EXIT_STATUS

    def __init__(self, what: str, part: str):
        self.what, self.part = what, part
        super().__init__(f"{what} ran out while {part}; stopped")


@dataclass
class _Limits:
    timeout: float | None = None
    memory_mb: int | None = None


_limits = _Limits()
_stack: list[tuple[str, float]] = []  # the program parts running, each with when it started
_lock = threading.Lock()


@contextmanager
def running(part: str) -> Iterator[None]:
    """Run a program part, bounded by --timeout, named in the message if time or memory runs out.

    The bound is per part (one grounding, one solve, one chunk waited for from the
    workers, one exhaustive analysis), not per command: a batch of a million cases
    takes minutes, each of its parts milliseconds.
    """
    entry = (part, time.monotonic())
    with _lock:
        _stack.append(entry)
    try:
        yield
    finally:
        with _lock:
            if entry in _stack:
                _stack.remove(entry)


def time_limit() -> float | None:
    """The --timeout in force (seconds per program part), None when there is none: for a wait bounded elsewhere."""
    return _limits.timeout


def current() -> str:
    """The innermost part running, with the outermost after it."""
    with _lock:
        parts = [p for p, _ in reversed(_stack)]
    if not parts:
        return "loading the knowledge base"
    return parts[0] + (f", during {parts[-1]}" if len(parts) > 1 else "")


def _overdue(timeout: float) -> bool:
    with _lock:
        oldest = min((started for _, started in _stack), default=None)
    return oldest is not None and time.monotonic() - oldest > timeout


class Bounds:
    """What install() set: undo() stops the watchdog and restores the memory limit."""

    def __init__(self, stop: threading.Event, previous_memory: tuple[int, int] | None):
        self._stop, self._previous = stop, previous_memory

    def undo(self) -> None:
        self._stop.set()
        if self._previous is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, self._previous)


def install(timeout: float | None = DEFAULT_TIMEOUT, memory_mb: int | None = DEFAULT_MEMORY_MB) -> Bounds:
    """Bound every program part in time, and this process (and its workers) in memory; 0/None: no bound."""
    _limits.timeout = timeout or None
    _limits.memory_mb = memory_mb or None
    previous = _limit_memory(memory_mb) if memory_mb else None
    stop = threading.Event()
    if timeout:
        threading.Thread(target=_watch, args=(timeout, stop), name="guard-timeout", daemon=True).start()
    return Bounds(stop, previous)


def _limit_memory(memory_mb: int) -> tuple[int, int] | None:
    try:
        import resource
    except ImportError:  # not on a POSIX system
        return None
    wanted = memory_mb * 1024 * 1024
    previous = resource.getrlimit(resource.RLIMIT_AS)
    soft, hard = previous
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft != resource.RLIM_INFINITY:
        wanted = min(wanted, soft)  # never loosen a limit the caller set
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
    return previous


def memory_error(part: str | None = None) -> ResourceExhausted:
    bound = f" (--memory {_limits.memory_mb} MB)" if _limits.memory_mb else ""
    return ResourceExhausted(f"memory{bound}", part or current())


def is_memory_message(text: str) -> bool:
    """clingo reports an allocation failure as a RuntimeError with std::bad_alloc."""
    return "bad_alloc" in text or "std::length_error" in text


def _watch(timeout: float, stop: threading.Event) -> None:
    interval = min(WATCH_INTERVAL, timeout / 10)
    while not stop.wait(interval):
        if _overdue(timeout):
            expire()
            return


def expire() -> None:
    """Time is up: say so, keep what was written, end the process (and, by PDEATHSIG, its workers)."""
    hard_exit(f"error: time (--timeout {_limits.timeout:g} s) ran out while {current()}; stopped", EXIT_STATUS)


def hard_exit(message: str, status: int) -> None:
    """End the process from any thread: flush what was written (whole lines), say why, exit."""

    def flush() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed pipe must not keep the process alive
                pass

    # The main thread may hold stdout's lock (blocked on a full pipe): flush aside, briefly.
    flusher = threading.Thread(target=flush, daemon=True)
    flusher.start()
    flusher.join(FLUSH_WAIT)
    try:
        os.write(2, (message + "\n").encode("utf-8", "replace"))
    except OSError:
        pass
    os._exit(status)

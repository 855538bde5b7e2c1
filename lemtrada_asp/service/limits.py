"""Bounds on the service: every decision in a child process that is killed past its limits,
and every request read within a time and under a share of memory.

Why child processes: clingo's C++ holds the thread while it grounds or solves,
so a decision cannot be stopped from inside the server. Each decision is sent to
one of a few *decider* processes (``DeciderPool``), each with the KB loaded once;
the server waits at most ``--timeout`` seconds for the answer, then kills that
process (SIGKILL), starts a replacement in the background and answers 503. The
memory bound is RLIMIT_AS in each decider (as the CLI's ``--memory``), so a
decision that needs more fails there, not in the server. The other deciders keep
answering meanwhile.

Why a gate on bodies: a 10,000,000-byte JSON body can become ~200 MB of Python
objects while it is parsed and checked; ``BodyGate`` lets at most
``LARGE_BODIES_AT_ONCE`` bodies larger than ``LARGE_BODY_BYTES`` (or of unknown
length) be read and parsed at once, the others waiting *unread* (the socket's
flow control holds them in the client), so N large bodies never hold N x 200 MB.
Parsing is CPU-bound under one interpreter lock, so the gate costs no throughput.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any

__all__ = [
    "BODY_READ_TIMEOUT", "BODY_WAIT", "DECIDERS", "HEADER_READ_TIMEOUT", "LARGE_BODIES_AT_ONCE", "LARGE_BODY_BYTES",
    "MAX_CONNECTIONS", "SHUTDOWN_GRACE", "SHUTDOWN_BOUND", "BodyGate", "Busy", "DecisionFailed", "DeciderPool",
    "LimitExceeded",
]

HEADER_READ_TIMEOUT = 10.0  # seconds from connecting (or the last answer) to a request's complete headers
BODY_READ_TIMEOUT = 30.0  # seconds to receive a whole body once its headers are in (10 MB at ~3 Mbit/s)
LARGE_BODY_BYTES = 1_000_000  # a body larger than this (or of unknown length) is read behind the gate
LARGE_BODIES_AT_ONCE = 1  # large bodies read and parsed at once, per server process
BODY_WAIT = 60.0  # seconds a large body may wait for its turn before 503
MAX_CONNECTIONS = 200  # open connections (and requests) per server process; past it uvicorn answers 503
DECIDERS = 2  # decider processes per server process: one slow decision leaves the others answering
DECIDER_START = 120.0  # seconds a decider may take to load the KB
SHUTDOWN_GRACE = 10  # seconds in-flight requests get after SIGTERM (uvicorn's graceful shutdown)
SHUTDOWN_BOUND = SHUTDOWN_GRACE + 5  # seconds from SIGTERM to the process's exit, whatever is running
CHILD_GRACE = 5.0  # a decider's own watchdog ends it this long after --timeout, should its server be gone


class LimitExceeded(Exception):
    """A decision ran out of time or memory and was stopped: 503 naming ``limit`` (``--timeout 60 s``)."""

    def __init__(self, what: str, limit: str):
        self.what, self.limit = what, limit
        super().__init__(f"the decision ran out of {what} ({limit}) and was stopped; the request was not decided")


class Busy(Exception):
    """No capacity within the wait allowed (a decider, or the large-body gate): 503."""


class DecisionFailed(Exception):
    """The decision raised in its decider (a KB that fails while deciding): 500, named by ``kind``."""

    def __init__(self, kind: str):
        self.kind = kind
        super().__init__(kind)


# --- the large-body gate ------------------------------------------------------------------


class BodyGate:
    """At most LARGE_BODIES_AT_ONCE large bodies read and parsed at once (an asyncio semaphore)."""

    def __init__(self, at_once: int = LARGE_BODIES_AT_ONCE, wait: float = BODY_WAIT):
        self._slots = asyncio.Semaphore(at_once)
        self._wait = wait

    @staticmethod
    def is_large(declared_length: str | None) -> bool:
        return not (declared_length or "").isdigit() or int(declared_length) > LARGE_BODY_BYTES

    async def acquire(self) -> None:
        try:
            await asyncio.wait_for(self._slots.acquire(), self._wait)
        except (asyncio.TimeoutError, TimeoutError):
            raise Busy(f"too many large requests at once: waited {self._wait:g} s for a turn to read this one") from None

    def release(self) -> None:
        self._slots.release()


# --- the decider processes ---------------------------------------------------------------


def _child(conn, kb_dir: str | None, versions_dir: str | None, timeout: float | None, memory_mb: int | None) -> None:
    """A decider: load the KB once, then decide each case sent, answering (kind, value)."""
    import signal

    os.setsid()  # a signal to the server's process group (Ctrl-C, killpg) is the server's to handle
    from ..engine.batch import _die_with_parent

    _die_with_parent()  # and if the server is killed, its deciders go with it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from ..engine import guard
    from ..engine.errors import LemtradaError

    # Its own watchdog too: should the server be gone, no decider is left solving.
    guard.install((timeout + CHILD_GRACE) if timeout else None, memory_mb)
    try:
        from .app import CaseInvalid
        from .decider import Decider

        decider = Decider(kb_dir, versions_dir)
    except BaseException as exc:  # noqa: BLE001 - said to the server, which reports it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", decider.kb_version))
    while True:
        try:
            operation, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[str, Any] = ("ok", getattr(decider, operation)(*args))
        except CaseInvalid as exc:
            answer = ("invalid", (exc.problems, exc.case_id, getattr(exc, "x12", None)))
        except MemoryError:
            answer = ("memory", None)
        except LemtradaError as exc:
            answer = ("memory", None) if isinstance(exc, guard.ResourceExhausted) else ("error", type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a KB that fails while deciding: 500, the server goes on
            answer = ("memory", None) if guard.is_memory_message(str(exc)) else ("error", type(exc).__name__)
        try:
            conn.send(answer)
        except (OSError, MemoryError):
            return
        if answer[0] == "memory":
            return  # after running out of memory its state is not to be trusted: the server starts another


class _Decider:
    """One decider process and the server's end of its pipe."""

    def __init__(self, process, conn):
        self.process, self.conn = process, conn

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(5)
        except (OSError, ValueError, AssertionError):
            pass
        self.conn.close()


class DeciderPool:
    """DECIDERS processes, each with the KB loaded; ``decide`` sends a case to a free one.

    It has the Decider interface (``kb_version``, ``tool_version``, ``decide``), so the
    app cannot tell it from an in-process Decider -- except that every decision ends
    within ``timeout`` seconds and ``memory_mb`` MB.
    """

    def __init__(self, kb_dir: str | None, kb_version: str, tool_version: str, *, size: int = DECIDERS,
                 timeout: float | None = None, memory_mb: int | None = None, versions_dir: str | None = None):
        import multiprocessing

        self.kb_dir, self.versions_dir, self.kb_version, self.tool_version = kb_dir, versions_dir, kb_version, tool_version
        self.size, self.timeout, self.memory_mb = size, timeout or None, memory_mb or None
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Decider] = queue.Queue()
        self._lock = threading.Lock()
        self._live: set[_Decider] = set()
        self._starting = 0
        self._failing = False  # a replacement decider failed to start (and is being tried again)
        self._closed = False
        # Every decider is started from this one thread: PR_SET_PDEATHSIG fires when the
        # *thread* that started a process ends, and this one lives as long as the pool.
        self._spawns: queue.Queue[Future | None] = queue.Queue()
        threading.Thread(target=self._keeper, name="decider-keeper", daemon=True).start()
        started = [self._spawn() for _ in range(size)]
        for decider in started:
            self._wait_ready(decider)  # raises for a KB that loads here but not in a decider
            self._idle.put(decider)

    # starting and replacing ------------------------------------------------------------

    def _keeper(self) -> None:
        while (request := self._spawns.get()) is not None:
            try:
                parent, child = self._context.Pipe()
                process = self._context.Process(target=_child, args=(child, self.kb_dir, self.versions_dir, self.timeout, self.memory_mb),
                                                name="lemtrada-decider", daemon=True)
                process.start()
                child.close()
                request.set_result(_Decider(process, parent))
            except BaseException as exc:  # noqa: BLE001 - handed to the thread that asked
                request.set_exception(exc)

    def _spawn(self) -> _Decider:
        request: Future = Future()
        self._spawns.put(request)
        decider = request.result()
        with self._lock:
            self._live.add(decider)
        return decider

    def _wait_ready(self, decider: _Decider) -> None:
        if not decider.conn.poll(DECIDER_START):
            self._drop(decider)
            raise RuntimeError(f"a decider did not load the knowledge base in {DECIDER_START:g} s")
        try:
            kind, value = decider.conn.recv()
        except (EOFError, OSError):
            kind, value = "error", f"it ended with status {decider.process.exitcode}"
        if kind != "ready":
            self._drop(decider)
            raise RuntimeError(f"a decider could not load the knowledge base: {value}")

    def _drop(self, decider: _Decider) -> None:
        with self._lock:
            self._live.discard(decider)
        decider.kill()

    def _replace(self, decider: _Decider) -> None:
        """Kill a decider and start another in the background (retrying each second until it loads)."""
        self._drop(decider)
        with self._lock:
            if self._closed:
                return
            self._starting += 1

        def start() -> None:
            try:
                while not self._closed:
                    try:
                        fresh = self._spawn()
                        self._wait_ready(fresh)
                    except Exception as exc:  # noqa: BLE001 - said, then tried again
                        self._failing = True
                        print(f"warning: restarting a decider: {exc}", file=sys.stderr, flush=True)
                        time.sleep(1)
                        continue
                    self._failing = False
                    if self._closed:
                        self._drop(fresh)
                    else:
                        self._idle.put(fresh)
                    return
            finally:
                with self._lock:
                    self._starting -= 1

        threading.Thread(target=start, name="decider-restart", daemon=True).start()

    # deciding --------------------------------------------------------------------------

    OPERATIONS = frozenset({"decide", "explain", "questionnaire", "next_question"})  # Decider methods a child runs

    def explain(self, case: dict) -> Any:
        """The Decision of a case with details and corrections (the review desk's), bounded as every decision is."""
        return self._run("explain", (case,))

    def decide(self, case: dict, corrections: bool = False) -> Any:
        """The decision of a parsed case; CaseInvalid, LimitExceeded, Busy or DecisionFailed otherwise."""
        return self._run("decide", (case, "request", corrections))

    def questionnaire(self) -> dict:
        """The DTR Questionnaire (its enableWhen is an analysis of the KB: bounded like a decision)."""
        return self._run("questionnaire", ())

    def next_question(self, case: dict, asked: list[str]) -> str | None:
        """The adaptive form's next question: a solve over the KB, bounded like a decision."""
        return self._run("next_question", (case, list(asked)))

    def _run(self, operation: str, args: tuple, tries: int = 2) -> Any:
        """One Decider method run in a decider process, within --timeout and --memory."""
        from .app import CaseInvalid

        assert operation in self.OPERATIONS

        wait = (self.timeout or 60.0) + DECIDER_START  # the longest a busy decider can take to come free
        try:
            decider = self._idle.get(timeout=wait)
        except queue.Empty:
            raise Busy(f"no decider came free in {wait:g} s") from None
        try:
            decider.conn.send((operation, args))
        except OSError:  # it died while idle (killed from outside): the case was never sent, so try another
            self._replace(decider)
            if tries > 1 and not self._closed:
                return self._run(operation, args, tries - 1)
            raise Busy("the deciders ended before deciding") from None
        try:
            if not decider.conn.poll(self.timeout):
                self._replace(decider)
                raise LimitExceeded("time", f"--timeout {self.timeout:g} s")
            kind, value = decider.conn.recv()
        except (EOFError, OSError):  # it died mid-decision: killed for memory by the kernel, or by an operator
            if self._closed:
                raise Busy("the server is stopping") from None
            decider.process.join(1)
            status = decider.process.exitcode
            self._replace(decider)
            if status == 3:  # its own watchdog (guard.EXIT_STATUS)
                raise LimitExceeded("time", f"--timeout {self.timeout:g} s") from None
            raise LimitExceeded("memory", self._memory_text()) from None
        if kind == "memory":
            self._replace(decider)
            raise LimitExceeded("memory", self._memory_text())
        self._idle.put(decider)
        if kind == "ok":
            return value
        if kind == "invalid":
            problems, case_id, x12 = value
            if x12:  # a business error of PAS (decider.BeforeEffectiveDate): its class is not pickled, its code is
                from .decider import BeforeEffectiveDate

                raise BeforeEffectiveDate(problems, case_id)
            raise CaseInvalid(problems, case_id)
        raise DecisionFailed(value)

    def _memory_text(self) -> str:
        return f"--memory {self.memory_mb} MB" if self.memory_mb else "the memory available"

    def health(self) -> dict:
        """How many deciders are idle, deciding and starting, and whether replacing one is failing:
        /healthz says it as it is."""
        with self._lock:
            live, starting = len(self._live), self._starting
        idle = self._idle.qsize()
        return {"idle": idle, "deciding": max(live - idle - starting, 0), "starting": starting,
                "failing": self._failing}

    def close(self) -> None:
        """Kill every decider (whatever it is doing); the pool takes no more decisions."""
        with self._lock:
            self._closed = True
            live = list(self._live)
            self._live.clear()
        for decider in live:
            decider.kill()
        self._spawns.put(None)

"""Decide a stream of case records and yield plain results, in input order.

This is the one path every command (decide, test, diff, ...) takes from files to
decisions. Reading stays in this process and is streamed; records go to the
engine in chunks (one ground program each, see engine.py), and with jobs > 1 the
cases go to worker processes, a round of `jobs` chunks at a time dealt by what
each worker's cache learns from (_Dealer), at most two rounds ahead of the
output, so memory stays flat however long the input. Results are plain data (dicts and
strings, no clingo symbols) because they cross process boundaries.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator

from . import guard
from .collector import set_for_batches
from .engine import CHUNK, Engine
from .chunks import Options, Result, decide_chunk, start_cache
from .errors import InputError, KnowledgeBaseError, Problem
from .knowledge import KnowledgeBase
from .loading import Record, iter_records

if TYPE_CHECKING:
    from .executors import Run

__all__ = ["Options", "Result", "capped_jobs", "decide_chunk", "decide_paths", "decide_records", "default_jobs", "stop_workers", "Interrupted", "SignalStop"]


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def capped_jobs(jobs: int | None) -> int:
    """Worker processes to start: at most the cores available (--jobs 1000 starts no more)."""
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    return min(jobs or default_jobs(), default_jobs())


PARTIAL_WAIT = 0.2  # seconds without a new line after which a slow input's partial chunk is decided


def decide_paths(
    paths: Iterable[str],
    engine: Engine | str | Path | None = None,
    *,
    options: Options = Options(),
    chunk: int = CHUNK,
    jobs: int = 1,
    stdin: IO[bytes] | None = None,
    records: Iterable[Record] | None = None,
    run: "Run | None" = None,
) -> Iterator[Result]:
    """Decide every case in paths (files, directories, JSON Lines, '-'), or the records given, in order.

    engine is a loaded Engine, or a KB directory to load one from (None: the shipped KB).
    run picks a shard and an executor (executors.py); None: all chunks, here or in `jobs` processes.
    """
    if not isinstance(engine, Engine):
        engine = Engine(KnowledgeBase(engine))  # a broken KB raises here, before any input is read
    paths = list(paths)
    stream = iter(records) if records is not None else iter_records(paths, stdin)
    # Standard input may be a person typing, or a slow producer: decide what has arrived.
    # A shard counts whole chunks, so it never cuts them by arrival time.
    waiting = "-" in paths and (run is None or run.shard is None)
    chunks = _chunked_waiting(stream, chunk, PARTIAL_WAIT) if waiting else _chunked(stream, chunk)
    jobs = capped_jobs(jobs)
    if run is not None:
        chunks = run.select(chunks)
        if run.executor == "dask":
            from .executors import decide_on_dask

            return reject_duplicate_ids(decide_on_dask(chunks, engine.kb.ref.absolute(), options, run.scheduler, jobs))
    if jobs > 1:
        results = _decide_in_workers(chunks, engine, options, jobs, chunk)
    else:
        results = _keeping(engine, (r for records in chunks for r in decide_chunk(engine, records, options)))
    return reject_duplicate_ids(results)


def decide_records(
    engine: Engine, records: Iterable[Record], *, options: Options = Options(), chunk: int = CHUNK
) -> Iterator[Result]:
    """Decide records in this process (the engine is reused across chunks)."""
    results = (r for part in _chunked(iter(records), chunk) for r in decide_chunk(engine, part, options))
    return reject_duplicate_ids(_keeping(engine, results))


def _keeping(engine: Engine, results: Iterator[Result]) -> Iterator[Result]:
    """The results; once they are all out, the proofs the decision cache learnt are written to disk
    (cache/memory.py keep: while deciding it writes them at most every few seconds)."""
    yield from results
    cache = getattr(engine, "_decision_cache", None)
    if cache is not None:
        cache.keep()


SOURCES_KEPT = 100_000  # ids whose first source is remembered for the message


def reject_duplicate_ids(results: Iterable[Result]) -> Iterator[Result]:
    """A second case with an id already seen in this run is an input error, not a second decision.

    Every id must be remembered, so memory grows with the run; to keep that small,
    where an id was first seen is kept only for the first 100,000 ids.
    """
    first_seen: dict[str, str] = {}
    seen: set[str] = set()
    try:
        yield from _unique(results, first_seen, seen)
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # a batch stopped early stops its workers now, not when garbage is collected


def _unique(results: Iterable[Result], first_seen: dict[str, str], seen: set[str]) -> Iterator[Result]:
    for result in results:
        if result.ok:
            case_id = result.case_id
            earlier = first_seen.get(case_id)
            if earlier is None and case_id in seen:
                earlier = "an earlier case of this run"
            if earlier is None:
                if len(first_seen) < SOURCES_KEPT:
                    first_seen[case_id] = result.source
                else:
                    seen.add(case_id)
            else:
                problem = Problem("id", f"duplicate case id {case_id!r}, first used at {earlier}")
                result = Result.failure(InputError(result.source, [problem], case_id))
        yield result


def _chunked(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while batch := list(islice(records, size)):
        yield batch


_END = object()


def _chunked_waiting(records: Iterator[Record], size: int, wait: float) -> Iterator[list[Record]]:
    """Chunks of at most `size`; a partial one as soon as no record arrives for `wait` seconds.

    The records are read in a thread, so a pause of the input (an interactive
    terminal, `(cat 5.jsonl; sleep 12) | decide -`) does not hold back what arrived.
    """
    import queue
    import threading

    arrived: queue.Queue = queue.Queue(maxsize=2 * size)

    def read() -> None:
        try:
            for record in records:
                arrived.put(record)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            arrived.put(exc)
        arrived.put(_END)

    threading.Thread(target=read, name="batch-stdin", daemon=True).start()
    batch: list[Record] = []
    while True:
        try:
            item = arrived.get(timeout=wait) if batch else arrived.get()
        except queue.Empty:
            yield batch
            batch = []
            continue
        if item is _END:
            break
        if isinstance(item, BaseException):
            raise item
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- worker processes --------------------------------------------------------------

_worker_engine: Engine | None = None
_worker_options = Options()
_parent_engine: Engine | None = None  # what a forked worker inherits: the engine, its KB loaded and its cache derived


def _start_worker(kb_dir, options: Options) -> None:
    # Spawned (not Linux): clingo's Control cannot be pickled, so each worker loads the KB itself, once.
    global _worker_engine, _worker_options
    _die_with_parent()
    set_for_batches()
    _worker_engine = Engine(KnowledgeBase(kb_dir))
    _worker_options = options


def _start_forked(options: Options) -> None:
    # Forked: the parent's engine is already here, loaded and derived, with what its cache has seen.
    # Not its signal handling: SignalStop's SIGTERM handler and wakeup pipe belong to the parent
    # (a worker writing to that pipe would make the parent's watcher think it was signalled).
    global _worker_engine, _worker_options
    import signal

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    set_for_batches()
    _worker_engine = _parent_engine
    _worker_options = options


def _die_with_parent() -> None:
    """A worker ends when the process that started it ends, however that ends.

    Ctrl-C reaches every process of the terminal's group: the parent handles it
    (it stops the workers and says what was written), so a worker ignores SIGINT.
    And if the parent is killed, or ends on a timeout with os._exit, Linux's
    PR_SET_PDEATHSIG sends the worker SIGKILL, so no worker is left grounding.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent ended before the call: end now
            os._exit(1)
    except (OSError, AttributeError):  # not Linux: stop_workers() still ends them on a signal
        pass


def _work(records: list[Record]) -> list[Result]:
    assert _worker_engine is not None
    results = decide_chunk(_worker_engine, records, _worker_options)
    if _worker_options.lines:
        return [r.as_line(_worker_engine) for r in results]
    return results


_abandoned: list[Any] = []  # pools stopped while working
MANAGER_WAIT = 2.0  # seconds to wait for a stopped pool's manager thread before a hard exit


def pools_abandoned() -> bool:
    """Whether a pool stopped mid-batch still has a thread the interpreter would wait for at exit.

    stop_workers unblocks the pool's manager thread (it may have been reading half a
    message from a killed worker); should it still be alive after a short wait, the
    CLI ends with os._exit after flushing its output (options.finish), rather than
    wait for it forever.
    """
    stuck = False
    for pool in _abandoned:
        thread = getattr(pool, "_executor_manager_thread", None)
        if thread is not None:
            thread.join(MANAGER_WAIT)
            stuck = stuck or thread.is_alive()
    return stuck


def release_abandoned() -> None:
    """Before a hard exit after stop_workers: free the pools' semaphores, end the resource tracker.

    Finalizers of priority >= 0 unlink the semaphores (so the tracker has nothing
    to warn about); those that join a queue's feeder thread (priority < 0) are the
    ones that would hang, and are skipped. The tracker ends once its pipe closes;
    it is waited for briefly, so it is neither left running nor a zombie.
    """
    from multiprocessing import resource_tracker, util

    try:
        util._run_finalizers(0)
    except Exception:  # noqa: BLE001 - exiting anyway
        pass
    waiter = threading.Thread(target=resource_tracker._resource_tracker._stop, daemon=True)
    waiter.start()
    waiter.join(2.0)


def stop_workers(pool) -> None:
    """End a pool now: kill its workers (whatever they are grounding) and forget queued chunks."""
    _abandoned.append(pool)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        try:
            process.kill()
        except (OSError, ValueError):
            pass
    for process in processes:
        try:
            process.join(timeout=2)
        except (OSError, ValueError, AssertionError):
            pass
    # With every worker dead, closing this process's end of the result pipe gives the
    # manager thread end-of-file instead of the rest of a half-sent result.
    queue = getattr(pool, "_result_queue", None)
    try:
        if queue is not None:
            queue._writer.close()
    except (OSError, AttributeError):
        pass
    pool.shutdown(wait=False, cancel_futures=True)


def _decide_in_workers(
    chunks: Iterator[list[Record]], engine: Engine, options: Options, jobs: int, size: int = CHUNK
) -> Iterator[Result]:
    """Chunks in worker processes, results in input order, at most two rounds of `jobs` chunks ahead.

    Workers start only once a second full chunk arrives: for one chunk they would
    cost more than they save. Each worker is a pool of its own, so that a round's
    cases can be dealt to workers by what their caches learn from (_Dealer); a
    partial chunk means the input paused or ended, so everything in flight is then
    written out. However the consumer stops (a signal, a closed pipe, an error), the
    finally block kills the workers.
    """
    pools: list = []
    dealer: _Dealer | None = None
    held: list[Record] | None = None  # a full chunk waiting to see whether workers are worth it
    gathered: list[Record] = []  # the round being gathered: `jobs` chunks, dealt to the workers at once
    pending: deque = deque()
    ahead = 2  # rounds in flight: each worker busy with one part and the next one queued, memory bounded
    finished = False
    try:
        for records in chunks:
            partial = len(records) < size
            if not pools:
                if held is None:
                    if partial:
                        yield from decide_chunk(engine, records, options)
                    else:
                        held = records
                    continue
                if partial:
                    yield from decide_chunk(engine, held, options)
                    held = None
                    yield from decide_chunk(engine, records, options)
                    continue
                if options.cache and _can_fork():
                    # Workers are forked with this process's cache: what it learns from the first
                    # chunk, each of them knows, instead of each missing it again.
                    start_cache(engine)
                    yield from decide_chunk(engine, held, options)
                    held = None
                pools = [_pool(engine, options, 1) for _ in range(jobs)]
                dealer = _Dealer(engine, options, jobs)
                if held is not None:
                    gathered, held = held, None
            gathered.extend(records)
            if partial or len(gathered) >= jobs * size:
                pending.append(_deal(pools, dealer, gathered))  # type: ignore[arg-type]
                gathered = []
            while pending and (partial or len(pending) >= ahead):
                yield from _gather(pending.popleft())
        if held is not None:
            yield from decide_chunk(engine, held, options)
        if gathered:
            pending.append(_deal(pools, dealer, gathered))  # type: ignore[arg-type]
        while pending:
            yield from _gather(pending.popleft())
        finished = True
    finally:
        for pool in pools:
            if finished:
                pool.shutdown(wait=True)
            else:
                stop_workers(pool)


ROUTED_KEYS = 10_000  # values of the hooks whose worker is remembered (memory stays bounded on any input)
BALANCE = 0.1  # a worker dealt this much more than its share (and a chunk) takes no more of its values' cases
ROUTED_BYTES = 65_536  # a longer case text is dealt by load alone: the parent never parses large texts


class _Dealer:
    """Which worker decides each case: every case with the same values of the cache's hooks goes to one worker.

    The decision cache (cache/memory.py) proves its parts, grounds the program above
    the leaves and solves new decision levels once per value of its hooks (a member's
    state, a count of prior courses): work a worker does for every value it meets.
    Dealt chunk by chunk, each worker met every value and did all of it again (about
    1.3x the CPU of one process on 20,000 fresh cases). So a value's cases all go to
    the worker that met it first, and a new value to the worker dealt fewest cases so
    far (on 20,000 generated cases: 60 values, 48/52%). Where a hook's fields are
    found the case model says (its optional ``input_fields``); a case whose values
    cannot be read cheaply (not a JSON object, a FHIR resource, a long text, a case
    model that does not say) is dealt by load alone. Which
    worker decides a case never changes its decision: only what is learnt twice.
    """

    def __init__(self, engine: Engine, options: Options, jobs: int, slack: int = CHUNK):
        self.paths = _hook_fields(engine) if options.cache else ()
        self.owner: dict[tuple, int] = {}
        self.dealt = [0] * jobs
        self.slack = slack

    def key(self, record: Record) -> tuple | None:
        """The values of the hooks' fields in the case's JSON; None: not read (dealt by load)."""
        if not self.paths:
            return None
        data = record.data
        if data is None:
            if record.yaml or record.error is not None or record.case is not None or not record.text \
                    or len(record.text) > ROUTED_BYTES:
                return None
            try:
                data = json.loads(record.text)
            except (ValueError, RecursionError):
                return None
        if not isinstance(data, dict) or "resourceType" in data:
            return None
        return tuple(_field_value(data, path, kept) for path, kept in self.paths)

    def deal(self, records: list[Record]) -> list[list[int]]:
        """The places in records each worker decides."""
        dealt, owner = self.dealt, self.owner
        places: list[list[int]] = [[] for _ in dealt]
        for i, record in enumerate(records):
            key = self.key(record)
            worker = owner.get(key) if key is not None else None
            if worker is None:
                worker = min(range(len(dealt)), key=dealt.__getitem__)
                if key is not None and len(owner) < ROUTED_KEYS:
                    owner[key] = worker
            elif dealt[worker] > (1 + BALANCE) * sum(dealt) / len(dealt) + self.slack:
                worker = min(range(len(dealt)), key=dealt.__getitem__)  # a value too common for one worker: shared
            dealt[worker] += 1
            places[worker].append(i)
        return places


def _hook_fields(engine: Engine) -> tuple[tuple[str, frozenset | None], ...]:
    """The case fields the cache's hooks are made from (paths such as member.state), each with the
    values that are told apart (None: every value); () when unknown."""
    fields_of = getattr(engine.case_model, "input_fields", None)
    if fields_of is None:
        return ()  # a case model that does not say which fields give an input (it is optional)
    from .cache import cache_for

    cache = cache_for(engine)
    if not cache.active:
        return ()
    collapse = cache.derivation.collapse
    fields: dict[str, frozenset | None] = {}
    for name, _ in cache.derivation.hooks:
        # A hook whose values the cache collapses (derive.py: no data fact tells them apart) keys by
        # whether its value is one the KB names, as the cache's own keys do.
        places = collapse.get(name, {})
        kept = next(iter(places.values())) if len(places) == 1 else None
        for path in fields_of(name):
            if "[]" not in path:
                fields[path] = kept
    return tuple(sorted(fields.items(), key=lambda item: item[0]))


def _field_value(data: Any, path: str, kept: frozenset | None) -> Any:
    """A field's value in a case's JSON, as a key: a list by its length (the hooks count entries),
    a value the cache collapses as "another value" unless kept."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    if isinstance(data, list):
        return ("list", len(data))
    if data is None or isinstance(data, dict):
        return None
    if kept is not None and data not in kept:
        return OTHER_VALUE
    return data


OTHER_VALUE = ("other value",)


def _deal(pools: list, dealer: _Dealer, records: list[Record]) -> tuple[int, list]:
    """A round's records dealt to the workers: (how many, [(their places, the worker's future)])."""
    parts = []
    for pool, places in zip(pools, dealer.deal(records)):
        if places:
            parts.append((places, pool.submit(_work, [records[i] for i in places])))
    return len(records), parts


def _gather(round: tuple[int, list]) -> Iterator[Result]:
    """A round's results back in input order."""
    count, parts = round
    results: list[Any] = [None] * count
    for places, future in parts:
        for place, result in zip(places, _collect(future)):
            results[place] = result
    return iter(results)


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _pool(engine: Engine, options: Options, jobs: int):
    """Worker processes: forked from this one where the platform can (after the KB is loaded and
    the cache derived, so no worker loads or derives again), else spawned, each loading the KB."""
    # Imported here: a one-case run should not pay ~20 ms for process pools.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _parent_engine
    if _can_fork():
        if options.cache:
            from .cache import cache_for

            cache_for(engine)  # derived (or loaded from disk) once, here, before the fork
        _parent_engine = engine
        return ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("fork"), initializer=_start_forked,
            initargs=(options,),
        )
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
        initargs=(engine.kb.ref, options),
    )


def _collect(future) -> list[Result]:
    from concurrent.futures.process import BrokenProcessPool

    try:
        with guard.running("deciding cases in worker processes (grounding and solving the decision program)"):
            return future.result()
    except BrokenProcessPool:
        raise KnowledgeBaseError(
            "a worker process ended while deciding a chunk of cases (killed, or out of memory)",
            ["decide with --jobs 1 to see the error in this process"],
        ) from None


# --- signals -----------------------------------------------------------------------


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: the batch stops; exit status 128 + the signal (130, 143)."""

    def __init__(self, signum: "int | str | Interrupted"):
        import signal

        # Rebuilt from its args (pickling, or a library re-raising it as type(exc)(exc)),
        # it arrives as the name or as itself; every form means the same signal.
        if isinstance(signum, Interrupted):
            signum = signum.signum
        elif isinstance(signum, str):
            signum = signal.Signals[signum].value
        self.signum = int(signum)
        self.name = signal.Signals(self.signum).name
        super().__init__(self.name)

    def __reduce__(self):
        return (Interrupted, (self.signum,))

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


HARD_STOP_WAIT = 2.0  # seconds a signal waits for the main thread (clingo may hold it) before a hard exit


class SignalStop:
    """SIGINT and SIGTERM stop a batch between two output lines, never inside one.

    Inside ``writing()`` a signal is held until the line is out; elsewhere (waiting
    for a worker, reading input) it raises Interrupted at once, and closing the
    results generator kills the workers (_decide_in_workers' finally). Python runs
    signal handlers only between bytecodes, and clingo grounding holds the main
    thread in C++: so a watcher thread, woken through signal.set_wakeup_fd, ends the
    process itself (what was written flushed, exit 128 + signal) if the main thread
    has not stopped within HARD_STOP_WAIT seconds.
    """

    def __init__(self, written: Callable[[], int] = lambda: 0) -> None:
        self._writing = False
        self._held: int | None = None
        self._previous: dict[int, Any] = {}
        self._written = written
        self._wakeup: tuple[int, int] | None = None
        self._old_wakeup = -1
        self.done = threading.Event()

    def __enter__(self) -> "SignalStop":
        import signal

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._on_signal)
            read, write = os.pipe()
            os.set_blocking(write, False)
            self._wakeup = (read, write)
            self._old_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
            threading.Thread(target=self._watch, args=(read,), name="batch-signals", daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        self.done.set()
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            os.close(self._wakeup[1])  # the watcher reads end of file and returns
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._writing:
            self._held = signum
            return
        raise Interrupted(signum)

    def _watch(self, read: int) -> None:
        import signal

        try:
            while True:
                data = os.read(read, 1)
                if not data:
                    return
                if data[0] in (signal.SIGINT, signal.SIGTERM) and not self.done.wait(HARD_STOP_WAIT):
                    name = signal.Signals(data[0]).name
                    guard.hard_exit(
                        f"interrupted by {name} while {guard.current()}: {self._written():,} cases written "
                        "(whole lines); the rest were not decided",
                        128 + data[0],
                    )
        finally:
            os.close(read)

    @contextmanager
    def writing(self) -> Iterator[None]:
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
        if self._held is not None:
            signum, self._held = self._held, None
            raise Interrupted(signum)

"""Where chunks are decided: this process, worker processes (batch.py), a shard of them, or Dask.

Every executor runs the same function on the same unit: ``decide_chunk(engine,
records, options)`` on one chunk of records (batch.py), with one engine per
process, loaded once. Results come back in input order, whoever decided them.

Shards. ``--shard I/N`` decides chunk numbers I, I+N, I+2N, ... (0-based, CHUNK
records each) of the input and nothing else, so any scheduler can split one file
across N machines without reading it into pieces first. Shard outputs are put
back in input order by interleaving them a chunk at a time: chunk c of the
input is chunk c // N of shard c % N's output (``lemtrada_asp.engine.executors.merge_shards``
does that on JSON Lines output, where every case, valid or not, is one line). A
case id repeated in two shards is not caught: duplicate ids are checked within a
run.

Dask. ``--executor dask`` sends each chunk to a Dask cluster as a task
(``--scheduler ADDRESS``, or a local cluster of worker processes on 127.0.0.1
when none is given); each worker process loads the engine once (and its decision
cache), for the KB the run names: ``--kb`` and any ``--overlay``, passed by
absolute path, so every worker must see those directories at the same paths. At
most a few chunks per worker are in flight, and results are yielded in input
order as they arrive, so memory stays flat. A worker that dies takes its
tasks with it; the scheduler runs them again on another worker (and each task is
retried up to RETRIES times if it raises), so no chunk is lost, and since each
chunk's result is read once, in order, none is duplicated. ``--timeout`` bounds
the wait for each chunk, as it bounds a chunk in local worker processes (a task
already running on a remote worker cannot be interrupted by Dask: it is
cancelled and its result never read). Before
the client connects, the address is probed (PROBE_SECONDS): a port that refuses,
or a server that is not a Dask scheduler (one that says nothing, or whose first
frame is no Dask handshake), is a SchedulerError naming the address, not an
I/O error of standard output or "memory ran out" (Dask's client would wait
forever for a silent server, and read any first 8 bytes as a frame length).

PySpark, over the same chunk function (not a dependency; tested when installed)::

    from lemtrada_asp.engine.executors import spark_partition
    lines = spark.sparkContext.textFile("cases.jsonl")          # one case per line
    decided = lines.mapPartitions(spark_partition(kb_dir=None))  # JSON lines out, in partition order
    decided.saveAsTextFile("decisions")

Each partition builds one engine and decides its lines a chunk at a time; the
output of a partition keeps the order of its input lines.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from . import guard
from .chunks import Options, Result, decide_chunk
from .engine import CHUNK
from .errors import IO_EXIT_STATUS, LemtradaError
from .loading import Record

if TYPE_CHECKING:
    from .knowledge import KbRef

__all__ = ["PROBE_SECONDS", "RETRIES", "Run", "SchedulerError", "decide_on_dask", "merge_shards", "parse_shard",
           "probe_scheduler", "spark_partition"]

RETRIES = 3
PROBE_SECONDS = 10.0  # how long a scheduler has to accept a connection and send its handshake
MAX_HANDSHAKE_BYTES = 1_000_000  # a Dask handshake is a few hundred bytes; a larger first frame is not one
DASK_CHUNK_PART = "deciding a chunk of cases on the Dask cluster"


class SchedulerError(LemtradaError):
    """The --scheduler address cannot be reached, or what answers there is not a Dask scheduler (exit 4)."""

    exit_status = IO_EXIT_STATUS


def probe_scheduler(address: str, seconds: float = PROBE_SECONDS) -> None:
    """SchedulerError unless a TCP Dask scheduler at address accepts and sends a handshake frame in time.

    Other transports (tls://, inproc://, ...) are left to Dask's client.
    """
    import socket
    import struct

    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise SchedulerError(f"--scheduler {address}: expected an address such as tcp://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=seconds) as conn:
            header = b""
            while len(header) < 8:
                piece = conn.recv(8 - len(header))
                if not piece:
                    raise SchedulerError(f"--scheduler {address}: not a Dask scheduler (it closed the connection without a handshake)")
                header += piece
    except socket.timeout:
        raise SchedulerError(f"--scheduler {address}: not a Dask scheduler (no handshake within {seconds:g} s)") from None
    except OSError as exc:
        raise SchedulerError(f"--scheduler {address}: cannot reach a Dask scheduler there: {exc.strerror or exc}") from None
    (size,) = struct.unpack("<Q", header)
    if not 0 < size <= MAX_HANDSHAKE_BYTES:
        raise SchedulerError(f"--scheduler {address}: not a Dask scheduler (its first bytes are no Dask handshake)")
EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class Run:
    """How a batch runs: which executor, which scheduler, which shard."""

    executor: str = "local"
    scheduler: str | None = None
    shard: tuple[int, int] | None = None  # (I, N)

    def select(self, chunks: Iterator[list[Record]]) -> Iterator[list[Record]]:
        if self.shard is None:
            return chunks
        index, count = self.shard
        return (chunk for number, chunk in enumerate(chunks) if number % count == index)


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N), with 0 <= I < N."""
    try:
        left, right = text.split("/")
        index, count = int(left), int(right)
    except ValueError:
        raise ValueError(f"--shard takes I/N (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text}: need 0 <= I < N")
    return index, count


def merge_shards(outputs: list[Iterable[str]], chunk: int = CHUNK) -> Iterator[str]:
    """The lines of N shard outputs (shard i's lines first to last) back in input order."""
    streams = [iter(o) for o in outputs]
    while True:
        wrote = False
        for stream in streams:
            for _, line in zip(range(chunk), stream):
                wrote = True
                yield line
        if not wrote:
            return


# --- one engine per process ---------------------------------------------------------

_engines: dict[Any, Any] = {}


def engine_here(kb: "str | KbRef | None"):
    """This process's engine for a KB (a directory, or a KbRef: a directory with overlays), loaded on first use."""
    found = _engines.get(kb)
    if found is None:
        from .engine import Engine
        from .knowledge import KnowledgeBase

        found = _engines[kb] = Engine(KnowledgeBase(kb))
    return found


def chunk_task(kb: "str | KbRef | None", options: Options, records: list[Record]) -> list[Result]:
    """The unit of work of every distributed executor: one chunk, decided by this process's engine."""
    return decide_chunk(engine_here(kb), records, options)


# --- Dask ------------------------------------------------------------------------------


def decide_on_dask(
    chunks: Iterator[list[Record]], kb: "str | KbRef | None", options: Options, scheduler: str | None, workers: int
) -> Iterator[Result]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        from .errors import InputError, Problem

        raise InputError("--executor dask", [Problem("", "Dask is not installed: install the package's [dask] extra (dask, distributed)")]) from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=40,
        )
    else:
        probe_scheduler(scheduler)
    try:
        client = Client(cluster if cluster is not None else scheduler, timeout=PROBE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - Dask's comm errors have no common base but Exception
        if cluster is not None:
            cluster.close()
            raise
        raise SchedulerError(f"--scheduler {scheduler}: the Dask scheduler refused the client: {exc}") from None
    try:
        slots = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
        yield from stream_futures(client, chunks, kb, options, ahead=2 * slots)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def stream_futures(client: Any, chunks: Iterator[list[Record]], kb: "str | KbRef | None", options: Options, ahead: int):
    """Submit chunks as tasks, at most `ahead` in flight; yield their results in input order."""
    pending: deque = deque()
    for records in chunks:
        pending.append(client.submit(chunk_task, kb, options, records, pure=False, retries=RETRIES))
        if len(pending) >= ahead:
            yield from _take(pending.popleft())
    while pending:
        yield from _take(pending.popleft())


def _take(future: Any) -> list[Result]:
    """A chunk's results, waited for at most --timeout (as a chunk in local worker processes).

    Past it, ResourceExhausted (exit 3, naming the part) rather than the
    watchdog's hard exit: the generator's ``finally`` then closes the client and
    a local cluster, whose workers would otherwise go on solving.
    """
    limit = guard.time_limit()
    try:
        results = future.result(timeout=limit)
    except TimeoutError:
        future.cancel()
        raise guard.ResourceExhausted(f"time (--timeout {limit:g} s)", DASK_CHUNK_PART) from None
    future.release()
    return results


# --- PySpark ---------------------------------------------------------------------------


def spark_partition(kb_dir: "str | KbRef | None" = None, options: Options = Options(), chunk: int = CHUNK):
    """A function for RDD.mapPartitions: case lines (JSON) in, decision lines (JSON) out, in order."""

    def run(lines: Iterable[str]) -> Iterator[str]:
        batch: list[Record] = []
        for n, line in enumerate(lines, 1):
            batch.append(Record(f"<partition line {n}>", text=line))
            if len(batch) == chunk:
                yield from _lines(chunk_task(kb_dir, options, batch))
                batch = []
        if batch:
            yield from _lines(chunk_task(kb_dir, options, batch))

    return run


def _lines(results: list[Result]) -> Iterator[str]:
    for r in results:
        yield json.dumps(r.decision if r.ok else r.error, ensure_ascii=False)


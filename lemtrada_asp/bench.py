"""Benchmark: cases per second per core, one-case latency, memory on a million cases.

    python -m lemtrada_asp.bench                  # aligned text (and the million-case stream)
    python -m lemtrada_asp.bench --markdown       # the same as one markdown table, for a document
    python -m lemtrada_asp.bench --quick          # without the million-case stream
    python -m lemtrada_asp.bench --quick --runs 3 --parallel-cases 4000   # a quick look

Everything is measured as CPU time of the process that does the work
(time.process_time in this process, getrusage of the child for subprocesses), so
a busy shared machine slows the wall clock, not the figures. Each workload runs
in ROUNDS interleaved rounds (A B C ... A B C ...) and the median is reported.

Workloads, each the CLI's whole path from JSON Lines text to JSON out (read,
parse, validate, decide, serialise), on one core, with the garbage collector set
as the CLI sets it (engine/collector.py):

* baseline: a fresh clingo Control per case (chunks of one case, no cache);
* chunked: the plain chunked path (a ground program per 200 cases, no cache);
* cache, cold: the shipped design from empty: a new engine whose cache starts empty,
  over 5,000 fresh cases (its derivation loaded from disk, as every run after the
  first for a KB version loads it; the cost of deriving is its own row);
* cache, warm: the same engine over the same corpus again (every part seen);
* --jobs 2 against --jobs 1 on 20,000 fresh cases, each from a new engine, results as
  the JSON lines ``decide --format json`` writes: the total CPU time of this process
  and its workers (getrusage of the children once they are waited for), and the wall
  time, the one figure here that is wall time (the median of the rounds' ratios).

Every row says the machine's 1-minute load average when it was measured.

Then one case in a fresh process (``lemtrada-asp decide CASE --format json``)
against ``python -c "import clingo"``, run in turns; the CPU per ``$submit`` request
of a served worker and its deciders with the store off and on SQLite (loopback,
service/bench.py, needs the service extra); and 1,000,000 generated cases streamed through ``decide --format json
--no-corrections --jobs 1`` from standard input, with the child's peak resident
memory (its input is generated on the fly: nothing is stored on disk).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

from .engine.batch import Options, decide_paths
from .engine.collector import set_for_batches
from .engine.engine import Engine
from .engine.knowledge import KnowledgeBase

ROUNDS = 3


def write_corpus(path: Path, n: int, seed: int) -> None:
    from .analysis.generate import generate_cases

    with path.open("w") as out:
        for case in generate_cases(n, seed):
            out.write(json.dumps(case) + "\n")


def command() -> list[str]:
    beside = Path(sys.executable).with_name("lemtrada-asp")  # the venv's console script
    script = str(beside) if beside.exists() else shutil.which("lemtrada-asp")
    return [script] if script else [sys.executable, "-m", "lemtrada_asp"]


def run_batch(corpus: Path, engine: Engine, *, corrections: bool, cache: bool, chunk: int) -> tuple[float, int]:
    """CPU seconds and cases for the CLI's path over a file, on this process's one core."""
    options = Options(corrections=corrections, cache=cache)
    start = time.process_time()
    count = 0
    for count, result in enumerate(decide_paths([str(corpus)], engine, options=options, chunk=chunk, jobs=1), 1):
        json.dumps(result.decision if result.ok else result.error, ensure_ascii=False)
    return time.process_time() - start, count


def head(corpus: Path, n: int, into: Path) -> Path:
    with corpus.open() as src, into.open("w") as out:
        for _, line in zip(range(n), src):
            out.write(line)
    return into


def fresh_process(case: Path, runs: int) -> tuple[float, float, float]:
    """Median CPU time (user + sys of the child) and wall time of a one-case run, and the median
    ratio of its CPU time to that of ``python -c "import clingo"``, the two run in turns."""
    # As an installed package runs: with compiled bytecode cached. A developer's
    # PYTHONDONTWRITEBYTECODE would make every run compile the modules again (~65 ms
    # here), so the child runs without it, once untimed to write the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    argv = [*command(), "decide", str(case), "--format", "json"]
    clingo_only = [sys.executable, "-c", "import clingo"]

    def timed(args: list[str]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, check=False, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise click.ClickException(f"{args[-1]} failed (exit {done.returncode}): {done.stderr.decode()[:500]}")
        return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall

    timed(argv)
    timed(clingo_only)
    cpu, wall, ratio = [], [], []
    for _ in range(runs):
        c, w = timed(argv)
        cpu.append(c)
        wall.append(w)
        ratio.append(c / timed(clingo_only)[0])
    return statistics.median(cpu), statistics.median(wall), statistics.median(ratio)


def million(n: int, seed: int) -> tuple[float, float, int]:
    """Stream n generated cases through decide on stdin; child CPU seconds, peak MB, lines out."""
    from .analysis.generate import generate_cases

    proc = subprocess.Popen(
        [*command(), "decide", "-", "--format", "json", "--no-corrections", "--jobs", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )

    def feed() -> None:
        assert proc.stdin is not None
        for case in generate_cases(n, seed):
            proc.stdin.write((json.dumps(case) + "\n").encode())
        proc.stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    lines = sum(1 for _ in proc.stdout)  # type: ignore[union-attr]
    proc.wait()
    writer.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, lines


def run_jobs(corpus: Path, kb: KnowledgeBase, jobs: int) -> tuple[float, float, int]:
    """CPU seconds (this process and its workers), wall seconds and cases: the CLI's JSON-lines path, from empty.

    A new engine each time (its cache empty; the derivation loaded from disk as any
    new run loads it), results as the lines ``decide --format json`` writes, and with
    jobs > 1 the workers forked from this process (batch.py); their CPU time is read
    from getrusage once the pool has ended and they have been waited for.
    """
    engine = Engine(kb)
    options = Options(lines=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start, wall = time.process_time(), time.perf_counter()
    count = 0
    for count, result in enumerate(decide_paths([str(corpus)], engine, options=options, jobs=jobs), 1):
        result.line
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return cpu + (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall, count


def load() -> float:
    """The machine's 1-minute load average, said with every figure (the machine is shared)."""
    return os.getloadavg()[0]


@click.command()
@click.option("--cases", "n", default=5_000, show_default=True, help="Fresh generated cases for the batch rows (from empty, then warm).")
@click.option("--baseline-cases", default=1_000, show_default=True, help="Cases for the fresh-Control baseline (it is slow; its rate is per case).")
@click.option("--parallel-cases", default=20_000, show_default=True, help="Cases for the --jobs 2 against --jobs 1 rows.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated corpus.")
@click.option("--runs", default=11, show_default=True, help="Fresh-process runs for the one-case row.")
@click.option("--million-cases", default=1_000_000, show_default=True, help="Cases streamed for the memory row.")
@click.option("--submit-requests", default=360, show_default=True,
              help="$submit requests per store mode for the service's CPU row (0: no service row).")
@click.option("--quick", is_flag=True, help="Skip the million-case stream.")
@click.option("--markdown", is_flag=True, help="Print one markdown table (every row, latency and memory too), for a document.")
def main(n: int, baseline_cases: int, parallel_cases: int, seed: int, runs: int, million_cases: int,
         submit_requests: int, quick: bool, markdown: bool) -> None:
    """Print cases/s per core (CPU time, median of 3 interleaved rounds), --jobs 2 against 1, latency and memory."""
    set_for_batches()  # as the command line sets its process (engine/collector.py), for every row
    kb = KnowledgeBase()
    derive_ms = derivation_cost(kb)
    Engine(kb)  # the KB's catalogue ground once before any row is timed, as in every row's engine
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        corpus = workdir / "corpus.jsonl"
        write_corpus(corpus, max(n, parallel_cases), seed)
        batch = head(corpus, n, workdir / "batch.jsonl")
        parallel = head(corpus, parallel_cases, workdir / "parallel.jsonl")
        small = head(corpus, min(baseline_cases, n), workdir / "small.jsonl")
        one = head(corpus, 1, workdir / "one.json")

        rows: dict[tuple[str, bool], list[float]] = {}
        loads: dict[str, list[float]] = {}
        jobs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for _ in range(ROUNDS):
            for corrections in (False, True):
                seconds, count = run_batch(small, Engine(kb), corrections=corrections, cache=False, chunk=1)
                rows.setdefault(("baseline", corrections), []).append(count / seconds)
                loads.setdefault("baseline", []).append(load())
                seconds, count = run_batch(batch, Engine(kb), corrections=corrections, cache=False, chunk=200)
                rows.setdefault(("chunked", corrections), []).append(count / seconds)
                loads.setdefault("chunked", []).append(load())
                engine = Engine(kb)
                seconds, count = run_batch(batch, engine, corrections=corrections, cache=True, chunk=200)
                rows.setdefault(("cache, cold", corrections), []).append(count / seconds)
                loads.setdefault("cache, cold", []).append(load())
                seconds, count = run_batch(batch, engine, corrections=corrections, cache=True, chunk=200)
                rows.setdefault(("cache, warm", corrections), []).append(count / seconds)
                loads.setdefault("cache, warm", []).append(load())
            for j in (1, 2):
                cpu_j, wall_j, _ = run_jobs(parallel, kb, j)
                jobs[j].append((cpu_j, wall_j))
                loads.setdefault(f"jobs {j}", []).append(load())
        cpu, wall, against_clingo = fresh_process(one, runs)
        loads["fresh"] = [load()]

        names = {
            "baseline": f"fresh clingo Control per case ({min(baseline_cases, n):,} cases)",
            "chunked": f"plain chunked path, no cache ({n:,} cases)",
            "cache, cold": f"shipped design: from empty, {n:,} fresh cases, --jobs 1",
            "cache, warm": f"shipped design: cache warm, same {n:,} cases again",
        }
        base = {c: statistics.median(rows[("baseline", c)]) for c in (False, True)}
        table = [["workload (1 core, CPU time, median of 3 interleaved rounds)", "cases/s", "× baseline",
                  "with corrections: cases/s", "× baseline", "load avg"]]
        for key, name in names.items():
            plain, fixed = statistics.median(rows[(key, False)]), statistics.median(rows[(key, True)])
            table.append([name, f"{plain:,.0f}", f"{plain / base[False]:.1f}×", f"{fixed:,.0f}", f"{fixed / base[True]:.1f}×",
                          f"{statistics.median(loads[key]):.1f}"])
        cpu1 = statistics.median(c for c, _ in jobs[1])
        cpu2 = statistics.median(c for c, _ in jobs[2])
        ratio_cpu = statistics.median(b[0] / a[0] for a, b in zip(jobs[1], jobs[2]))
        ratio_wall = statistics.median(b[1] / a[1] for a, b in zip(jobs[1], jobs[2]))
        table.append([f"--jobs 1, {parallel_cases:,} cases from empty (JSON lines; CPU s, wall s)",
                      f"{cpu1:.2f} s CPU", f"{statistics.median(w for _, w in jobs[1]):.2f} s wall", "", "",
                      f"{statistics.median(loads['jobs 1']):.1f}"])
        table.append(["--jobs 2, the same (this process and its workers)",
                      f"{cpu2:.2f} s CPU", f"{statistics.median(w for _, w in jobs[2]):.2f} s wall",
                      f"CPU {ratio_cpu:.2f}× --jobs 1", f"wall {ratio_wall:.2f}×", f"{statistics.median(loads['jobs 2']):.1f}"])
        table.append([f"one case in a fresh process (decide CASE --format json, median of {runs})",
                      f"{cpu * 1000:.0f} ms CPU", f"{wall * 1000:.0f} ms wall",
                      f"CPU {against_clingo:.2f}× import clingo", "", f"{loads['fresh'][0]:.1f}"])
        table.append(["deriving the cache (once per KB version; kept on disk, engine/cache/stored.py)",
                      f"{derive_ms:.0f} ms CPU", "", "", "", f"{load():.1f}"])
        if submit_requests:
            table.append(submit_row(submit_requests))
        if not quick:
            seconds, peak_mb, lines = million(million_cases, seed)
            table.append([f"{lines:,} cases streamed (decide - --format json --no-corrections --jobs 1)",
                          f"{lines / seconds:,.0f}", "", "", f"peak {peak_mb:,.0f} MB", f"{load():.1f}"])
        click.echo(render_table(table, markdown))


def submit_row(requests: int) -> list[str]:
    """$submit's CPU per request (the server and its deciders, one worker, 8 clients), the store off
    and on SQLite, in interleaved rounds (service/bench.py); a note instead without the service extra."""
    name = f"$submit, {requests:,} requests a store mode: CPU per request (server + deciders)"
    from importlib.util import find_spec
    from types import SimpleNamespace

    missing = [module for module in ("fastapi", "uvicorn", "httpx", "psutil") if find_spec(module) is None]
    if missing:  # the service extra is not installed
        return [name, f"not measured: no {', '.join(missing)} (pip install '.[service]')", "", "", "", f"{load():.1f}"]
    from .service.bench import STORE_MODES, interleaved

    batch = max(8, requests // ROUNDS)
    _, cpu = interleaved(list(STORE_MODES), 1, SimpleNamespace(no_log=True, concurrency=8), batch, ROUNDS)
    per = {mode: 1000 * seconds / (batch * ROUNDS) for mode, seconds in cpu.items()}
    return [name, f"{per['off']:.2f} ms store off", f"{per['sqlite']:.2f} ms SQLite",
            f"{1000 / per['off']:,.0f} req per CPU-s (off)", "", f"{load():.1f}"]


def derivation_cost(kb: KnowledgeBase) -> float:
    """CPU milliseconds to derive the cache's layers from the KB (what a stored derivation saves), median of 3."""
    from .engine.cache.derive import derive

    times = []
    for _ in range(ROUNDS):
        start = time.process_time()
        derive(kb)
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def render_table(table: list[list[str]], markdown: bool) -> str:
    """Rows as a markdown table (numbers right-aligned) or as aligned text for a terminal."""
    if markdown:
        head, *body = table
        lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
        for row in table
    )



if __name__ == "__main__":
    main()

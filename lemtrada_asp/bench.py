"""Benchmark: cases per second per core, one-case latency, memory on a million cases.

    python -m lemtrada_asp.bench                  # aligned text (and the million-case stream)
    python -m lemtrada_asp.bench --markdown       # the same as one markdown table, for a document
    python -m lemtrada_asp.bench --quick          # without the million-case stream

Everything is measured as CPU time of the process that does the work
(time.process_time in this process, getrusage of the child for subprocesses), so
a busy shared machine slows the wall clock, not the figures. Each workload runs
in ROUNDS interleaved rounds (A B C ... A B C ...) and the median is reported.

Workloads, each the CLI's whole path from JSON Lines text to JSON out (read,
parse, validate, decide, serialise), on one core, with the garbage collector set
as the CLI sets it (engine/collector.py):

* baseline: a fresh clingo Control per case (chunks of one case, no cache);
* chunked: the plain chunked path (a ground program per 200 cases, no cache);
* cache, cold: the shipped design, a new engine whose cache starts empty;
* cache, warm: the same engine over the same corpus again (every part seen).

Then one case in a fresh process (``lemtrada-asp decide CASE --format json``),
and 1,000,000 generated cases streamed through ``decide --format json
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


def fresh_process(case: Path, runs: int) -> tuple[float, float]:
    """Median CPU time (user + sys of the child) and median wall time of a one-case run."""
    # As an installed package runs: with compiled bytecode cached. A developer's
    # PYTHONDONTWRITEBYTECODE would make every run compile the modules again (~65 ms
    # here), so the child runs without it, once untimed to write the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    argv = [*command(), "decide", str(case), "--format", "json"]
    subprocess.run(argv, capture_output=True, check=False, env=env)
    cpu, wall = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False, env=env)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise click.ClickException(f"decide failed (exit {done.returncode}): {done.stderr.decode()[:500]}")
    return statistics.median(cpu), statistics.median(wall)


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


@click.command()
@click.option("--cases", "n", default=10_000, show_default=True, help="Generated cases for the batch rows.")
@click.option("--baseline-cases", default=1_000, show_default=True, help="Cases for the fresh-Control baseline (it is slow; its rate is per case).")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated corpus.")
@click.option("--runs", default=11, show_default=True, help="Fresh-process runs for the one-case row.")
@click.option("--million-cases", default=1_000_000, show_default=True, help="Cases streamed for the memory row.")
@click.option("--quick", is_flag=True, help="Skip the million-case stream.")
@click.option("--markdown", is_flag=True, help="Print one markdown table (every row, latency and memory too), for a document.")
def main(n: int, baseline_cases: int, seed: int, runs: int, million_cases: int, quick: bool, markdown: bool) -> None:
    """Print cases/s per core (CPU time, median of 3 interleaved rounds), latency and peak memory."""
    set_for_batches()  # as the command line sets its process (engine/collector.py), for every row
    kb = KnowledgeBase()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        corpus = workdir / "corpus.jsonl"
        write_corpus(corpus, n, seed)
        small = head(corpus, min(baseline_cases, n), workdir / "small.jsonl")
        one = head(corpus, 1, workdir / "one.json")

        rows: dict[tuple[str, bool], list[float]] = {}
        for _ in range(ROUNDS):
            for corrections in (False, True):
                seconds, count = run_batch(small, Engine(kb), corrections=corrections, cache=False, chunk=1)
                rows.setdefault(("baseline", corrections), []).append(count / seconds)
                seconds, count = run_batch(corpus, Engine(kb), corrections=corrections, cache=False, chunk=200)
                rows.setdefault(("chunked", corrections), []).append(count / seconds)
                engine = Engine(kb)
                seconds, count = run_batch(corpus, engine, corrections=corrections, cache=True, chunk=200)
                rows.setdefault(("cache, cold", corrections), []).append(count / seconds)
                seconds, count = run_batch(corpus, engine, corrections=corrections, cache=True, chunk=200)
                rows.setdefault(("cache, warm", corrections), []).append(count / seconds)
        cpu, wall = fresh_process(one, runs)

        names = {
            "baseline": f"fresh clingo Control per case ({min(baseline_cases, n):,} cases)",
            "chunked": f"plain chunked path, no cache ({n:,} cases)",
            "cache, cold": f"shipped design: cache from empty ({n:,} cases)",
            "cache, warm": f"shipped design: cache warm, same {n:,} cases again",
        }
        base = {c: statistics.median(rows[("baseline", c)]) for c in (False, True)}
        table = [["workload (1 core, CPU time, median of 3 interleaved rounds)", "cases/s", "× baseline",
                  "with corrections: cases/s", "× baseline"]]
        for key, name in names.items():
            plain, fixed = statistics.median(rows[(key, False)]), statistics.median(rows[(key, True)])
            table.append([name, f"{plain:,.0f}", f"{plain / base[False]:.1f}×", f"{fixed:,.0f}", f"{fixed / base[True]:.1f}×"])
        table.append([f"one case in a fresh process (decide CASE --format json, median of {runs})",
                      f"{cpu * 1000:.0f} ms CPU", f"{wall * 1000:.0f} ms wall", "", ""])
        if not quick:
            seconds, peak_mb, lines = million(million_cases, seed)
            table.append([f"{lines:,} cases streamed (decide - --format json --no-corrections --jobs 1)",
                          f"{lines / seconds:,.0f}", "", "", f"peak {peak_mb:,.0f} MB"])
        click.echo(render_table(table, markdown))


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

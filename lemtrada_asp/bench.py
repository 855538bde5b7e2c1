"""Benchmark: cases/second and latency, measured, never assumed.

    python -m lemtrada_asp.bench                 # the standard table
    python -m lemtrada_asp.bench --million       # also peak memory streaming 1,000,000 cases

Rows: one case in a fresh process (the command a person runs); one case at a
time on a warm engine (the latency a service would see); N generated cases on
one core and on all cores, as the CLI runs them (read, validate, decide, JSON
out). Latency in a batch is the time per case of the chunk it was decided in.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from .engine.batch import Options, decide_paths, default_jobs
from .engine.engine import CHUNK, Engine
from .engine.loading import iter_items


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def write_corpus(path: Path, n: int, seed: int) -> None:
    from .analysis.generate import generate_cases

    with path.open("w") as out:
        for case in generate_cases(n, seed):
            out.write(json.dumps(case) + "\n")


def command() -> list[str]:
    beside = Path(sys.executable).with_name("lemtrada-asp")  # the venv's console script
    script = str(beside) if beside.exists() else shutil.which("lemtrada-asp")
    return [script] if script else [sys.executable, "-m", "lemtrada_asp"]


def fresh_process(case: Path, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([*command(), "decide", str(case)], check=False, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise click.ClickException(f"decide failed (exit {done.returncode}): {done.stderr.decode()[:500]}")
    return percentile(times, 0.5), percentile(times, 0.99)


def warm_single(corpus: Path, n: int) -> tuple[float, float, float]:
    engine = Engine()
    items = [i for _, i in zip(range(n), iter_items([str(corpus)], engine.case_model.validate)) if i.case is not None]
    times = []
    for item in items:
        start = time.perf_counter()
        json.dumps(engine.decide([(item.source, item.case)])[0].to_json())
        times.append(time.perf_counter() - start)
    return len(times) / sum(times), percentile(times, 0.5), percentile(times, 0.99)


def batch(corpus: Path, jobs: int, options: Options) -> tuple[float, float, float, int]:
    """Throughput and per-case latency (chunk time / chunk size) as the CLI runs a file."""
    start = time.perf_counter()
    last = start
    latencies: list[float] = []
    count = 0
    for count, result in enumerate(decide_paths([str(corpus)], Engine(), jobs=jobs, options=options), start=1):
        json.dumps(result.decision if result.ok else result.error)
        if count % CHUNK == 0:
            now = time.perf_counter()
            latencies.append((now - last) / CHUNK)
            last = now
    elapsed = time.perf_counter() - start
    latencies = latencies or [elapsed / max(count, 1)]
    return count / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99), count


def million(workdir: Path, seed: int, jobs: int) -> tuple[float, float, int]:
    corpus = workdir / "million.jsonl"
    write_corpus(corpus, 1_000_000, seed)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        subprocess.run(
            [*command(), "decide", str(corpus), "--format", "json", "--no-corrections", "--jobs", str(jobs)],
            stdout=sink,
            check=False,
        )
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak_kb, before) / 1024, 1_000_000


@click.command()
@click.option("--cases", "n", default=10_000, show_default=True, help="Generated cases for the batch rows.")
@click.option("--seed", default=1, show_default=True, help="Seed of the generated corpus.")
@click.option("--runs", default=15, show_default=True, help="Fresh-process runs for the one-case row.")
@click.option("--million", "with_million", is_flag=True, help="Also stream 1,000,000 cases and report peak memory.")
def main(n: int, seed: int, runs: int, with_million: bool) -> None:
    """Print cases/second and p50/p99 latency per case for the standard workloads."""
    cores = default_jobs()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        corpus = workdir / "corpus.jsonl"
        write_corpus(corpus, n, seed)
        one = workdir / "one.json"
        one.write_text(corpus.open().readline())

        rows = []
        p50, p99 = fresh_process(one, runs)
        rows.append(("one case, fresh process (lemtrada-asp decide CASE)", 1 / p50, p50, p99))
        rate, p50, p99 = warm_single(corpus, min(n, 1000))
        rows.append(("one case at a time, warm engine", rate, p50, p99))
        rate, p50, p99, _ = batch(corpus, 1, Options())
        rows.append((f"{n:,} generated cases, 1 core", rate, p50, p99))
        rate, p50, p99, _ = batch(corpus, cores, Options())
        rows.append((f"{n:,} generated cases, {cores} cores", rate, p50, p99))
        if "corrections" in Options.__dataclass_fields__:
            with_corrections = Options(**{"corrections": True})
            rate, p50, p99, _ = batch(corpus, 1, with_corrections)
            rows.append((f"{n:,} generated cases with corrections, 1 core", rate, p50, p99))
            rate, p50, p99, _ = batch(corpus, cores, with_corrections)
            rows.append((f"{n:,} generated cases with corrections, {cores} cores", rate, p50, p99))

        click.echo("| workload | cases/s | p50 ms/case | p99 ms/case |")
        click.echo("| --- | ---: | ---: | ---: |")
        for name, rate, p50, p99 in rows:
            click.echo(f"| {name} | {rate:,.0f} | {p50 * 1000:.3f} | {p99 * 1000:.3f} |")
        if with_million:
            elapsed, peak_mb, count = million(workdir, seed, cores)
            click.echo(
                f"\n1,000,000 cases streamed (decide --format json --no-corrections, {cores} cores): "
                f"{elapsed:,.0f} s ({count / elapsed:,.0f} cases/s), peak resident memory of one process {peak_mb:,.0f} MB"
            )


if __name__ == "__main__":
    main()

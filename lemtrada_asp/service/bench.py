"""Load benchmark of the service: ``python -m lemtrada_asp.service.bench``.

Starts ``lemtrada-asp serve`` on loopback (a free port on 127.0.0.1, never
another address), drives C concurrent clients for N requests per endpoint, and
prints requests/s and p50/p99 latency for ``$submit`` (a PAS Bundle) and
``/v1/decide`` (the equivalent case), for each ``--workers`` count given.
``--store`` instead compares ``$submit`` of new requests with the store off,
on SQLite and (given ``--database``) on PostgreSQL, as ratios to the store off. The
clients run on the same machine, so on a small one they compete with the
server for its cores; the figures are the service's under that load.
``--cpu`` measures what a ``$submit`` costs the machine rather than how fast it
answers: the CPU time of the server and its decider processes (user + system, read
from /proc through psutil before and after each batch) per request, and requests per
CPU-second, with the store off and on (SQLite), in interleaved rounds; the clients'
own CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "pas"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STORE_OPTIONS = ("--data-dir", "--database", "--no-store", "--store")
STORE_MODES = (("off", ["--no-store"]), ("sqlite", None))  # the options per compared store mode (None: a data dir of its own)


def start(*args: str, port: int | None = None, timeout: float = 60,
          env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``lemtrada-asp serve`` in a new process group on 127.0.0.1; returns once /healthz answers.

    Unless ``args`` name the store, the server gets a store of its own in a new
    temporary data directory (removed by ``stop``): servers started here never
    share one, nor touch the user's default data directory.
    """
    import httpx

    port = port or free_port()
    data_dir = None
    if not any(a.split("=", 1)[0] in STORE_OPTIONS for a in args) and env is None:
        data_dir = tempfile.mkdtemp(prefix="lemtrada-store-")
        args = (*args, "--data-dir", data_dir)
    command = [sys.executable, "-m", "lemtrada_asp", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
    proc.data_dir = data_dir  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}: {proc.stderr.read().decode()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError("serve did not answer /healthz in time")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Signal the server's process group (its workers too) and wait for it."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()
    finally:
        if getattr(proc, "data_dir", None):
            shutil.rmtree(proc.data_dir, ignore_errors=True)


async def drive(url: str, path: str, body: bytes | list[bytes], media: str, requests: int, concurrency: int) -> dict:
    """``requests`` POSTs by ``concurrency`` clients; a list of bodies is sent one body per request, in turn."""
    import httpx

    bodies = body if isinstance(body, list) else [body]
    latencies: list[float] = []
    errors = 0
    queue = iter(range(requests))

    async def client(session: httpx.AsyncClient) -> None:
        nonlocal errors
        for n in queue:
            t = time.perf_counter()
            response = await session.post(url + path, content=bodies[n % len(bodies)], headers={"content-type": media})
            latencies.append(time.perf_counter() - t)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": requests, "errors": errors, "rps": requests / elapsed, "elapsed": elapsed, "latencies": latencies,
            "p50_ms": 1000 * latencies[len(latencies) // 2], "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1]}


def distinct_bundles(count: int, tag: str) -> list[bytes]:
    """``count`` copies of the approvable fixture Bundle, each with its own Claim and Bundle identifier.

    With a store, the same identifier again is a replay of the stored answer; distinct
    identifiers make every request a new one, decided and stored.
    """
    import json

    base = json.loads((FIXTURES / "approve-initial.bundle.json").read_text())
    out = []
    for n in range(count):
        base["identifier"]["value"] = f"B-bench-{tag}-{n}"
        base["entry"][0]["resource"]["identifier"][0]["value"] = f"TRN-bench-{tag}-{n}"
        out.append(json.dumps(base).encode())
    return out


def store_comparison(args) -> None:
    """$submit with the store off, on SQLite (and on PostgreSQL with --database), per worker count, in one run.

    The servers of one worker count run side by side and are driven in turns, a
    batch each per round, so that load from elsewhere on the machine falls on
    every configuration alike; each row sums its batches.
    """
    modes = list(STORE_MODES)
    if args.database:
        modes.append(("postgresql", ["--database", args.database]))
    rounds = max(1, args.rounds)
    batch = max(args.concurrency, args.requests // rounds)
    print(f"$submit, {batch * rounds} new requests per row (distinct Claim identifiers) in {rounds} interleaved rounds, "
          f"{args.concurrency} concurrent clients, decision log {'off' if args.no_log else 'on'}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'workers':>7}  {'store':<10} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'req/s ratio':>11} {'p50 ratio':>9}")
    for workers in args.workers:
        results, _ = interleaved(modes, workers, args, batch, rounds)
        base = None
        for name, _ in modes:
            r = _summed(results[name])
            base = base or r
            print(f"{workers:>7}  {name:<10} {r['rps']:>7.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>6} "
                  f"{r['rps'] / base['rps']:>11.2f} {r['p50_ms'] / base['p50_ms']:>9.2f}", flush=True)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and every process below it that is alive."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # ended between the listing and the reading
            continue
        total += times.user + times.system
    return total


def cpu_comparison(args) -> None:
    """$submit's CPU per request (server + deciders) with the store off and on SQLite, one worker, in interleaved rounds.

    Each row sums its rounds: requests over the CPU seconds the server's process tree used
    while they were answered (req/CPU-s), CPU ms per request, and req/s in wall time.
    """
    modes = list(STORE_MODES)
    rounds = max(1, args.rounds)
    batch = max(args.concurrency, args.requests // rounds)
    print(f"$submit CPU per request, server + deciders, {batch * rounds} new requests per row in {rounds} interleaved rounds, "
          f"{args.concurrency} concurrent clients, 1 worker, decision log {'off' if args.no_log else 'on'}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'store':<8} {'req/s':>7} {'CPU ms/req':>10} {'req/CPU-s':>9} {'p50 ms':>8} {'errors':>6}")
    results, cpu = interleaved(modes, 1, args, batch, rounds)
    for name, _ in modes:
        r = _summed(results[name])
        count = batch * rounds
        print(f"{name:<8} {r['rps']:>7.1f} {1000 * cpu[name] / count:>10.2f} {count / cpu[name]:>9.1f} "
              f"{r['p50_ms']:>8.1f} {r['errors']:>6}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at end")


def interleaved(modes: list[tuple[str, list[str] | None]], workers: int, args, batch: int,
                rounds: int) -> tuple[dict[str, list[dict]], dict[str, float]]:
    """Start one server per mode, warm each up, then send ``batch`` new $submit requests to each in
    turn for ``rounds`` rounds, so that load from elsewhere falls on every mode alike: each mode's
    batches, and the CPU seconds its process tree used while answering them."""
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for name, options in modes:
                log = [] if args.no_log else ["--decision-log", str(Path(tmp) / f"{name}.jsonl")]
                store = options if options is not None else ["--data-dir", str(Path(tmp) / "data")]
                servers[name] = start("--workers", str(workers), *log, *store)
            tag = f"{workers}-{os.getpid()}-{time.time_ns()}"
            cpu = {name: 0.0 for name, _ in modes}
            results: dict[str, list[dict]] = {name: [] for name, _ in modes}
            for name, (_, url) in servers.items():  # warm up
                warm = distinct_bundles(min(32, batch), f"{name}-{tag}-warm")
                asyncio.run(drive(url, "/fhir/Claim/$submit", warm, "application/fhir+json", len(warm), args.concurrency))
            for n in range(rounds):
                for name, (proc, url) in servers.items():
                    bodies = distinct_bundles(batch, f"{name}-{tag}-{n}")
                    before = tree_cpu(proc.pid)
                    results[name].append(asyncio.run(drive(url, "/fhir/Claim/$submit", bodies, "application/fhir+json",
                                                           batch, args.concurrency)))
                    cpu[name] += tree_cpu(proc.pid) - before
        finally:
            for proc, _ in servers.values():
                stop(proc)
    return results, cpu


def _summed(batches: list[dict]) -> dict:
    """One row of several batches: requests over the summed time, percentiles over every latency."""
    latencies = sorted(x for b in batches for x in b["latencies"])
    elapsed = sum(b["elapsed"] for b in batches)
    return {"rps": len(latencies) / elapsed, "errors": sum(b["errors"] for b in batches),
            "p50_ms": 1000 * latencies[len(latencies) // 2], "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per endpoint and worker count")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-log", action="store_true", help="serve without --decision-log")
    parser.add_argument("--store", action="store_true",
                        help="compare $submit with the store off and on (SQLite; PostgreSQL too with --database), "
                             "ratios to the store off")
    parser.add_argument("--database", default=None, help="with --store: a postgresql:// URL to compare as well")
    parser.add_argument("--rounds", type=int, default=5, help="with --store or --cpu: interleaved rounds")
    parser.add_argument("--cpu", action="store_true",
                        help="$submit's CPU time per request (server + deciders), store off and on (SQLite), one worker")
    args = parser.parse_args(argv)
    if args.cpu:
        cpu_comparison(args)
        return
    if args.store:
        store_comparison(args)
        return
    bundle = (FIXTURES / "approve-initial.bundle.json").read_bytes()
    case = (FIXTURES / "approve-initial.case.json").read_bytes()
    print(f"{args.requests} requests per row, {args.concurrency} concurrent clients, "
          f"decision log {'off' if args.no_log else 'on (fsync per decision)'}, {os.cpu_count()} cores")
    print(f"{'workers':>7}  {'endpoint':<20} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            log = [] if args.no_log else ["--decision-log", str(Path(tmp) / "decisions.jsonl")]
            proc, url = start("--workers", str(workers), "--no-store", *log)  # as before the store: see --store
            try:
                for path, body, media in (("/fhir/Claim/$submit", bundle, "application/fhir+json"),
                                          ("/v1/decide", case, "application/json")):
                    asyncio.run(drive(url, path, body, media, min(50, args.requests), args.concurrency))  # warm up
                    r = asyncio.run(drive(url, path, body, media, args.requests, args.concurrency))
                    print(f"{workers:>7}  {path:<20} {r['rps']:>7.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>6}")
            finally:
                stop(proc)


if __name__ == "__main__":
    main()

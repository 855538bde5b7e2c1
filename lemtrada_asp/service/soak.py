"""Soak test of the service: ``python -m lemtrada_asp.service.soak``.

Starts ``lemtrada-asp serve`` on loopback (a free port on 127.0.0.1, never another
address) over a copy of the shipped KB in which a case with ``hiv_positive: true``
makes clingo search for minutes (``PIGEONHOLE``), then:

1. sends N mixed requests (default 2,000) from C concurrent clients (default 16):
   PAS Bundles to ``$submit``, cases to ``/v1/decide``, reads of /healthz, the
   CapabilityStatement and the Questionnaire; ``HOSTILE_SHARE`` of them hostile
   bodies (a path, ``-``, a non-object, not JSON, a bdl-7 Bundle, a trailing slash,
   another media type), and one slow case per ``--slow-every`` requests;
2. sends ``--big`` (default 16) maximum-size bodies at once: half Bundles of a
   million-odd empty entries, half valid Bundles carrying an 8.8 MB attachment.

It prints the count of each status, whether any 5xx other than the slow cases'
503s occurred, p50/p99 latency of the ordinary requests, and the peak resident
memory of the server with its decider processes, in each phase. Bounded in count
(the requests given) and time (``--max-seconds``); exit status 0 when every check
holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from .bench import FIXTURES, start, stop

__all__ = ["PIGEONHOLE", "main", "slow_kb"]

# A case with hiv_positive makes clingo search for minutes in a few MB (13 pigeons, 12 holes);
# every other case is decided as by the shipped KB.
PIGEONHOLE = """
% issue 22: a case with hiv_positive makes clingo search for minutes (13 pigeons, 12 holes)
slow_pig(K,1..13) :- hiv_positive(K, true).
slow_hole(K,1..12) :- hiv_positive(K, true).
1 { slow_at(K,P,H) : slow_hole(K,H) } 1 :- slow_pig(K,P).
:- slow_at(K,P1,H), slow_at(K,P2,H), P1 < P2.
"""

HOSTILE_SHARE = 0.05
MEMORY_CEILING_MB = 1024  # issue 22: 16 concurrent maximum-size requests stay under 1 GB


def slow_kb(root: Path, rules: str = PIGEONHOLE) -> Path:
    """A copy of the shipped KB under root with rules appended to its exclusions."""
    from ..engine.knowledge import default_kb_dir

    kb = root / "kb"
    shutil.copytree(default_kb_dir(), kb)
    with (kb / "exclusions.lp").open("a") as f:
        f.write(rules)
    return kb


class Sampler:
    """The peak resident memory of a process and its children, sampled every 20 ms."""

    def __init__(self, pid: int):
        import psutil

        self._process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.02):
            total = 0
            try:
                for p in (self._process, *self._process.children(recursive=True)):
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak = max(self.peak, total)

    def reset(self) -> None:
        self.peak = 0

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)


def requests_to_send(count: int, slow_every: int, seed: int) -> list[tuple[str, str, str, bytes, dict]]:
    """(kind, method, path, body, headers) for each request, in a fixed mixed order."""
    bundle = (FIXTURES / "approve-initial.bundle.json").read_bytes()
    case = (FIXTURES / "approve-initial.case.json").read_bytes()
    slow_case = json.dumps({**json.loads(case), "hiv_positive": True}).encode()
    slow_bundle = json.loads(bundle)
    slow_bundle["entry"][8]["resource"]["item"][7]["answer"][0]["valueBoolean"] = True  # the HIV answer
    doubled = json.loads(bundle)
    patient = next(e for e in doubled["entry"] if e["resource"]["resourceType"] == "Patient")
    doubled["entry"].append({**patient, "resource": {**patient["resource"], "id": "twin"}})
    fhir, plain = {"content-type": "application/fhir+json"}, {"content-type": "application/json"}
    case_path = str(FIXTURES / "approve-initial.case.json")
    hostile = [
        ("POST", "/v1/decide", b'"/"', plain), ("POST", "/v1/decide", b'"-"', plain),
        ("POST", "/v1/decide", json.dumps(case_path).encode(), plain), ("POST", "/v1/decide", b"[1]", plain),
        ("POST", "/v1/decide", b"12", plain), ("POST", "/v1/decide", b"null", plain),
        ("POST", "/fhir/Claim/$submit", b'"/"', fhir), ("POST", "/fhir/Claim/$submit", b"{not json", fhir),
        ("POST", "/fhir/Claim/$submit", json.dumps(doubled).encode(), fhir),
        ("GET", "/fhir/metadata/", b"", {}), ("POST", "/v1/decide", case, {"content-type": "text/plain"}),
    ]
    ordinary = [
        ("POST", "/fhir/Claim/$submit", bundle, fhir), ("POST", "/v1/decide", case, plain),
        ("GET", "/healthz", b"", {}), ("GET", "/fhir/metadata", b"", {}), ("GET", "/fhir/Questionnaire/lemtrada-pa", b"", {}),
    ]
    weights = [40, 40, 8, 6, 6]
    rng = random.Random(seed)
    out = []
    for n in range(1, count + 1):
        if slow_every and n % slow_every == 0:
            slow = (n // slow_every) % 2
            out.append(("slow", "POST", *(("/v1/decide", slow_case, plain) if slow else
                                          ("/fhir/Claim/$submit", json.dumps(slow_bundle).encode(), fhir))))
        elif rng.random() < HOSTILE_SHARE:
            out.append(("hostile", *rng.choice(hostile)))
        else:
            out.append(("ordinary", *rng.choices(ordinary, weights)[0]))
    return out


def is_timeout(status: int, body: bytes) -> bool:
    """A 503 of a decision stopped at --timeout (OperationOutcome code timeout, or error time_limit)."""
    if status != 503:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return data.get("error") == "time_limit" or any(i.get("code") == "timeout" for i in data.get("issue", []))


async def send_all(url: str, requests: list, concurrency: int, deadline: float) -> list[tuple[str, int, float, bool]]:
    """(kind, status, seconds, timed out) of each request; status 0 for a request the client gave up on."""
    import httpx

    results: list[tuple[str, int, float, bool]] = []
    unexpected: list[str] = []
    todo = iter(requests)

    async def client(session: httpx.AsyncClient) -> None:
        for kind, method, path, body, headers in todo:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            try:
                r = await session.request(method, url + path, content=body or None, headers=headers)
                status, content = r.status_code, r.content
            except httpx.HTTPError:
                status, content = 0, b""
            results.append((kind, status, time.perf_counter() - started, is_timeout(status, content)))
            if (status >= 500 or status == 0) and kind != "slow" and len(unexpected) < 5:
                unexpected.append(f"{method} {path} -> {status} {content[:200]!r}")

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    for line in unexpected:
        print(f"  unexpected: {line}")
    return results


def big_bodies(count: int) -> list[tuple[str, str, str, bytes, dict]]:
    """count maximum-size bodies: empty-entry Bundles just under 10,000,000 bytes, and attachment Bundles."""
    empty = b'{"resourceType":"Bundle","type":"collection","entry":[' + b",".join([b"{}"] * 3_300_000) + b"]}"
    bundle = json.loads((FIXTURES / "approve-initial.bundle.json").read_bytes())
    bundle["entry"].append({"fullUrl": "urn:uuid:7d0f8a3c-2a4e-4c8e-9b7e-5b4c8a1e0f11", "resource": {
        "resourceType": "DocumentReference", "status": "current",
        "content": [{"attachment": {"contentType": "text/plain", "data": "QUJD" * 2_400_000}}]}})
    attached = json.dumps(bundle).encode()
    fhir = {"content-type": "application/fhir+json"}
    return [("big", "POST", "/fhir/Claim/$submit", empty if i % 2 == 0 else attached, fhir) for i in range(count)]


def percentile(values: list[float], share: float) -> float:
    values = sorted(values)
    return values[min(int(len(values) * share), len(values) - 1)] if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="mixed requests to send (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--slow-every", type=int, default=100, help="one slow case per this many requests (default 100)")
    parser.add_argument("--timeout", type=float, default=3, help="the server's --timeout in seconds (default 3)")
    parser.add_argument("--big", type=int, default=16, help="maximum-size bodies sent at once (default 16)")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop sending after this long (default 900)")
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args(argv)
    import os

    print(f"soak: {args.requests} mixed requests, {args.concurrency} concurrent clients, {HOSTILE_SHARE:.0%} hostile, "
          f"one slow case per {args.slow_every}; serve --timeout {args.timeout:g}; {os.cpu_count()} cores", flush=True)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        kb = slow_kb(Path(tmp))
        proc, url = start("--kb", str(kb), "--timeout", f"{args.timeout:g}", "--decision-log", str(Path(tmp) / "log.jsonl"))
        sampler = Sampler(proc.pid)
        try:
            deadline = time.monotonic() + args.max_seconds
            plan = requests_to_send(args.requests, args.slow_every, args.seed)
            started = time.perf_counter()
            results = asyncio.run(send_all(url, plan, args.concurrency, deadline))
            elapsed = time.perf_counter() - started
            mixed_peak = sampler.peak
            counts: dict[tuple[str, int], int] = {}
            for kind, status, _, _ in results:
                counts[(kind, status)] = counts.get((kind, status), 0) + 1
            print(f"sent {len(results)} of {len(plan)} in {elapsed:.1f} s ({len(results) / elapsed:.1f} req/s)")
            for (kind, status), n in sorted(counts.items()):
                print(f"  {kind:<9} {status:>3}: {n}")
            other_5xx = [r for r in results if (r[1] >= 500 or r[1] == 0) and not r[3]]
            slow_ok = all(r[3] for r in results if r[0] == "slow")
            hostile_ok = all(400 <= r[1] < 500 for r in results if r[0] == "hostile")
            ordinary_ok = all(r[1] == 200 for r in results if r[0] == "ordinary")
            latencies = [r[2] for r in results if r[0] == "ordinary"]
            print(f"5xx (or no answer) other than timeouts: {len(other_5xx)}  [{'ok' if not other_5xx else 'FAIL'}]")
            print(f"every slow case answered 503 at --timeout: {'yes' if slow_ok else 'NO'}; "
                  f"every hostile body 4xx: {'yes' if hostile_ok else 'NO'}; every ordinary request 200: "
                  f"{'yes' if ordinary_ok else 'NO'}")
            print(f"ordinary latency: p50 {1000 * percentile(latencies, 0.5):.1f} ms, p99 {1000 * percentile(latencies, 0.99):.1f} ms")
            print(f"peak RSS, server and deciders, mixed load: {mixed_peak / 2**20:.0f} MB")
            failures += [] if not other_5xx and slow_ok and hostile_ok and ordinary_ok else ["mixed load"]
            failures += [] if len(results) == len(plan) else ["time bound reached before every request was sent"]
            if args.big:
                bodies = big_bodies(args.big)
                sampler.reset()
                started = time.perf_counter()
                big = asyncio.run(send_all(url, bodies, args.big, time.monotonic() + args.max_seconds))
                peak = sampler.peak
                statuses = sorted(r[1] for r in big)
                print(f"{args.big} concurrent maximum-size requests ({len(bodies[0][3]):,} and {len(bodies[-1][3]):,} bytes) "
                      f"in {time.perf_counter() - started:.1f} s: statuses {statuses}")
                print(f"peak RSS, server and deciders, {args.big} concurrent maximum-size requests: {peak / 2**20:.0f} MB "
                      f"(ceiling {MEMORY_CEILING_MB} MB) [{'ok' if peak < MEMORY_CEILING_MB * 2**20 else 'FAIL'}]")
                failures += [] if peak < MEMORY_CEILING_MB * 2**20 and all(s in (200, 400) for s in statuses) else ["big bodies"]
            health = json.loads(__import__("httpx").get(url + "/healthz").content)
            print(f"healthz after: {health['status']}, deciders {health['deciders']}")
        finally:
            sampler.close()
            status = stop(proc)
        print(f"server exit status after SIGTERM: {status}")
        failures += [] if status == 0 else ["exit status"]
    print("soak: " + ("every check holds" if not failures else "FAILED: " + ", ".join(failures)))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())

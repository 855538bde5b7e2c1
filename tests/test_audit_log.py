"""The audit trail (issue 22, findings 2, 4, 6, 7, 9): a decision log you can trust, masking that
masks, replay that streams and names bad lines, and names printed as what they are.

Decisions are made by clingo with the shipped KB; the CLI is run through click's CliRunner or
as a subprocess; the rotation and SIGHUP cases run a real server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conftest import CASES_DIR, INITIAL, KB_DIR, REPO, vary
from lemtrada_asp.cli import main
from lemtrada_asp.engine.executors import SchedulerError, probe_scheduler
from lemtrada_asp.service.bench import start, stop
from lemtrada_asp.service.decision_log import GENESIS, DecisionLog, mask_value, read_log, verify
from lemtrada_asp.service.decider import Decider

PAS = Path(__file__).parent / "fixtures" / "pas"
FHIR = {"content-type": "application/fhir+json"}
JSON = {"content-type": "application/json"}
KEY = b"k" * 16 + os.urandom(16)
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


def command(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lemtrada_asp", *args], env=ENV, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def decider():
    return Decider(None)


def write_log(path: Path, decider, cases: list[dict], **kw) -> DecisionLog:
    log = DecisionLog(str(path), **kw)
    for case in cases:
        log.record(endpoint="v1/decide", received=case, case=case, decision=decider.decide(case),
                   kb_version=decider.kb_version, tool_version=decider.tool_version)
    return log


def cases(n: int) -> list[dict]:
    return [vary(INITIAL, {"id": f"A-{i}"}) for i in range(n)]


# --- the hash chain and replay --verify -------------------------------------------------


def test_replay_verify_names_an_edited_a_deleted_an_inserted_and_a_torn_line_by_number(tmp_path, decider):
    path = tmp_path / "decisions.jsonl"
    write_log(path, decider, cases(10))
    clean = cli("replay", "--verify", str(path))
    assert clean.exit_code == 0 and "the hash chain is whole" in clean.output
    lines = path.read_bytes().split(b"\n")[:-1]
    lines[2] = lines[2].replace(b'"approve"', b'"deny"', 1)  # line 3 edited
    del lines[5]  # the line that was 6 deleted: the old line 7 is now line 6
    lines.insert(7, lines[0])  # a copy of line 1 inserted as line 8
    path.write_bytes(b"\n".join(lines) + b"\n" + lines[-1][:40])  # a torn last line: 11
    result = cli("replay", "--verify", str(path))
    assert result.exit_code == 1, result.output
    found = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in result.output.splitlines() if line.startswith(str(path))}
    assert found[f"{path}:3"].startswith("edited")
    assert found[f"{path}:6"].startswith("1 line(s) deleted before it")
    assert found[f"{path}:8"].startswith("inserted")
    assert "torn" in found[f"{path}:11"]
    assert len([k for k in found if k.count(":") == 1]) == 4  # nothing else is blamed


def test_a_torn_last_line_is_ended_before_the_next_decision_so_no_decision_is_lost(tmp_path, decider):
    path = tmp_path / "decisions.jsonl"
    write_log(path, decider, cases(3))
    with path.open("ab") as f:
        f.write(b'{"seq": 4, "prev": "sha256:x", "decision_id": "torn", "ti')  # disk full mid-write
    write_log(path, decider, [vary(INITIAL, {"id": "AFTER"})])
    assert [line["case"]["id"] for line in read_log(str(path))] == ["A-0", "A-1", "A-2", "AFTER"]
    gaps = [str(g) for g in verify([str(path)])]
    assert gaps == [f"{path}:4: " + gaps[0].split(": ", 1)[1]] and "torn" in gaps[0]  # the torn line only
    assert json.loads(path.read_bytes().split(b"\n")[4])["seq"] == 4  # the next decision goes on the chain


def test_each_line_names_the_hash_of_the_line_before_from_a_stated_genesis(tmp_path, decider):
    path = tmp_path / "decisions.jsonl"
    write_log(path, decider, cases(3))
    raw = path.read_bytes().split(b"\n")[:-1]
    entries = [json.loads(r) for r in raw]
    assert entries[0]["prev"] == GENESIS == "sha256:" + "0" * 64
    assert [e["prev"] for e in entries[1:]] == ["sha256:" + hashlib.sha256(r).hexdigest() for r in raw[:-1]]
    assert [e["seq"] for e in entries] == [1, 2, 3]


def test_replay_reports_each_bad_line_by_file_and_line_and_replays_the_others_with_exit_2(tmp_path, decider):
    path = tmp_path / "decisions.jsonl"
    write_log(path, decider, cases(2))
    with path.open("ab") as f:
        f.write(b'{"decision_id": "x", "case": {"id": "NO-DECISION"}}\n')  # no decision
        f.write(b"not json at all\n")
        f.write(b"[1, 2]\n")
    write_log(path, decider, [vary(INITIAL, {"id": "LAST"})])
    result = cli("replay", str(path), "--format", "json")
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output
    summary = json.loads(result.stdout.splitlines()[0])["summary"]
    assert summary["compared"] == 3 and summary["invalid"] == 3 and summary["changed"] == 0
    for number, what in ((3, "no decision"), (4, "not JSON"), (5, "not a JSON object")):
        assert f"{path}:{number}: cannot be replayed: " in result.stderr and what in result.stderr


@pytest.mark.slow
def test_replay_streams_a_large_log_in_constant_memory(tmp_path, decider):
    decision = decider.decide(INITIAL)
    pad = {"pad": "x" * 40_000}

    def log_of(name: str, lines: int) -> Path:
        path = tmp_path / name
        log = DecisionLog(str(path), log_requests=True)
        for i in range(lines):
            log.record(endpoint="v1/decide", received=pad, case=vary(INITIAL, {"id": f"L-{i}"}), decision=decision,
                       kb_version=decider.kb_version, tool_version=decider.tool_version)
        return path

    def peak(path: Path) -> float:
        code = ("import resource, sys; from click.testing import CliRunner; from lemtrada_asp.cli import main;"
                f"r = CliRunner().invoke(main, ['replay', {str(path)!r}]); assert r.exit_code == 0, r.output;"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
        done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return float(done.stdout.split()[-1])

    # Both decide past their first chunk (so both derive the decision cache); 20 MB and 80 MB of
    # request bodies: read whole, the larger would cost at least 60 MB more.
    medium, large = log_of("medium.jsonl", 500), log_of("large.jsonl", 2_000)
    assert large.stat().st_size > 75_000_000
    assert peak(large) - peak(medium) < 20  # MB


# --- the file: mode, symlinks, rotation --------------------------------------------------


def test_the_log_is_created_0600_and_an_existing_world_readable_one_is_tightened(tmp_path, decider):
    fresh = tmp_path / "fresh.jsonl"
    DecisionLog(str(fresh)).close()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    loose = tmp_path / "loose.jsonl"
    loose.write_text("")
    loose.chmod(0o644)
    log = DecisionLog(str(loose))
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600 and log.tightened == 0o644


def test_serve_refuses_a_symlinked_log_path_and_masking_without_a_key(tmp_path):
    target = tmp_path / "elsewhere.jsonl"
    link = tmp_path / "decisions.jsonl"
    link.symlink_to(target)
    result = cli("serve", "--port", "0", "--decision-log", str(link))
    assert result.exit_code == 2 and "is a symbolic link" in result.output and not target.exists()
    env = {k: v for k, v in os.environ.items() if k != "LEMTRADA_MASK_KEY"}
    result = cli("serve", "--port", "0", "--decision-log", str(tmp_path / "log.jsonl"), "--mask-member-ids",
                 env={**env, "LEMTRADA_MASK_KEY": ""})
    assert result.exit_code == 2 and "--mask-member-ids needs a key" in result.output
    short = tmp_path / "short.key"
    short.write_bytes(b"abc")
    result = cli("serve", "--port", "0", "--decision-log", str(tmp_path / "log.jsonl"), "--mask-member-ids", "--mask-key-file", str(short))
    assert result.exit_code == 2 and "at least 16 are needed" in result.output


def member_bundle() -> bytes:
    """A request naming the member by identifiers, each call a new request (a Claim identifier of its own:
    the server's store answers an identifier it has seen with its stored answer, and logs no new decision)."""
    import uuid

    bundle = json.loads((PAS / "approve-initial.bundle.json").read_bytes())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Claim":
            resource["patient"]["identifier"] = {"system": "https://example.org/member", "value": "12345678901"}
            resource["identifier"][0]["value"] += "-" + uuid.uuid4().hex[:12]
        if resource["resourceType"] == "Coverage":
            resource["identifier"] = [{"system": "https://example.org/member", "value": "12345678901-01"}]
    return json.dumps(bundle).encode()


def post(url: str, body: bytes, path: str = "/fhir/Claim/$submit", headers: dict = FHIR) -> httpx.Response:
    answer = httpx.post(url + path, content=body, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer


def test_a_served_log_follows_a_rename_and_a_removal_and_sighup_reopens_without_stopping_the_server(tmp_path):
    log = tmp_path / "decisions.jsonl"
    key = tmp_path / "mask.key"
    key.write_bytes(KEY)
    proc, url = start("--decision-log", str(log), "--mask-member-ids", "--mask-key-file", str(key), "--log-requests")
    try:
        post(url, member_bundle())
        os.rename(log, tmp_path / "decisions.jsonl.1")  # logrotate's rename, no signal
        post(url, member_bundle())
        # one decision in each file (beside the store's state moves, which the log records too)
        decisions = lambda path: [line for line in read_log(str(path)) if line["endpoint"] == "fhir/Claim/$submit"]
        assert len(decisions(log)) == 1 and len(decisions(tmp_path / "decisions.jsonl.1")) == 1
        os.rename(log, tmp_path / "decisions.jsonl.2")
        os.kill(proc.pid, signal.SIGHUP)  # logrotate's postrotate
        time.sleep(0.3)
        post(url, member_bundle())
        assert proc.poll() is None  # SIGHUP does not kill the server
        log.unlink()  # removed outright
        post(url, (PAS / "approve-initial.case.json").read_bytes(), "/v1/decide", JSON)
        assert [line["endpoint"] for line in read_log(str(log))] == ["v1/decide"]
    finally:
        assert stop(proc) == 0
    rotated = [str(tmp_path / "decisions.jsonl.1"), str(tmp_path / "decisions.jsonl.2")]
    assert list(verify(rotated)) == []  # the chain goes on across the rotation
    [note] = verify([rotated[1]])
    assert note.note and "goes on from a rotated file" in note.what
    for path in [*rotated, str(log)]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        raw = Path(path).read_bytes()
        assert b"12345678901" not in raw and b"1122334455" not in raw  # member id, its Coverage id, the subscriber id
        assert b"SMITH" not in raw and b"ELM ST" not in raw and b"1987-02-14" not in raw and KEY not in raw


# --- masking ------------------------------------------------------------------------------


def test_masking_replaces_every_member_id_with_a_keyed_token_and_drops_names_and_birth_days(tmp_path, decider):
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(str(path), mask_key=KEY, log_requests=True)
    body = json.loads(member_bundle())
    case = vary(INITIAL, {"member.id": "12345678901", "member.name": "Joe Smith", "member.birth_date": "1987-02-14"})
    for _ in range(2):
        log.record(endpoint="fhir/Claim/$submit", received=body, case=case, decision=decider.decide(case),
                   kb_version=decider.kb_version, tool_version=decider.tool_version, client="clinic-7")
    first, second = read_log(str(path))
    token = mask_value("12345678901", KEY)
    assert first["case"]["member"]["id"] == token == second["case"]["member"]["id"]  # same member, same token
    resources = {e["resource"]["resourceType"]: e["resource"] for e in first["input"]["entry"]}
    assert resources["Patient"]["identifier"][0]["value"] == token
    assert resources["Claim"]["patient"]["identifier"]["value"] == token
    assert resources["Coverage"]["subscriberId"] == mask_value("1122334455", KEY)
    assert resources["Coverage"]["identifier"][0]["value"] == mask_value("12345678901-01", KEY)
    assert resources["Patient"]["birthDate"] == "1987" and "name" not in resources["Patient"] and "address" not in resources["Patient"]
    assert "name" not in first["case"]["member"] and first["client"] == "clinic-7" and first["masked"] is True
    # The birth date keeps the one thing the policy reads, the age on the request date, and nothing more.
    assert first["case"]["member"]["birth_date"] == "1987-05-01"  # 39 on 2026-05-01, as the real one
    assert first["decision"] == decider.decide(first["case"])
    raw = path.read_bytes()
    assert b"12345678901" not in raw and b"Smith" not in raw and b"02-14" not in raw and KEY not in raw


@pytest.mark.slow
def test_a_brute_force_over_a_million_candidate_ids_cannot_match_a_token_without_the_key():
    member = "MBR-0731940"
    token = mask_value(member, KEY)
    digest = token.removeprefix("hmac:")
    candidates = [f"MBR-{n:07d}".encode() for n in range(0, 10_000_000, 10)]  # 10^6 ids, the member's among them
    assert member.encode() in candidates
    wrong_key = os.urandom(32)
    for candidate in candidates:  # a plain hash, and a keyed one under any other key, match nothing
        assert hashlib.sha256(candidate).hexdigest()[: len(digest)] != digest
        assert hmac.digest(wrong_key, candidate, "sha256").hex()[: len(digest)] != digest
    # ... while with the key the same search finds it: the token is the keyed hash, nothing weaker.
    assert [c for c in candidates if hmac.digest(KEY, c, "sha256").hex()[: len(digest)] == digest] == [member.encode()]


# --- replay: limits, causes -----------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_for_one_case(tmp_path_factory) -> Path:
    """A KB that grounds forever for a member aged 77, and decides every other case as the shipped one."""
    import shutil

    kb = tmp_path_factory.mktemp("slow") / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "hooks.lp").open("a") as f:
        f.write("\nloop(K, 0) :- age(K, 77).\nloop(K, X + 1) :- loop(K, X).\n")
    return kb


def test_replay_takes_timeout_and_memory_and_stops_a_decision_that_runs_over_with_exit_3(tmp_path, decider, slow_for_one_case):
    path = tmp_path / "decisions.jsonl"
    old = vary(INITIAL, {"id": "OLD", "member.birth_date": "1949-01-01"})
    write_log(path, decider, [old])
    started = time.monotonic()
    done = command("replay", str(path), "--kb", str(slow_for_one_case), "--timeout", "2", "--memory", "3000")
    assert done.returncode == 3, done.stderr
    assert "time (--timeout 2 s) ran out while grounding" in done.stderr
    assert time.monotonic() - started < 30


@pytest.mark.slow
def test_the_dask_executor_stops_at_the_timeout_per_chunk_with_exit_3(tmp_path, slow_for_one_case):
    pytest.importorskip("dask.distributed")
    case = tmp_path / "old.json"
    case.write_text(json.dumps(vary(INITIAL, {"id": "OLD", "member.birth_date": "1949-01-01"})))
    started = time.monotonic()
    done = command("decide", str(case), "--kb", str(slow_for_one_case), "--executor", "dask", "--jobs", "1", "--timeout", "3")
    assert done.returncode == 3, done.stderr
    assert "time (--timeout 3 s) ran out while deciding a chunk of cases on the Dask cluster" in done.stderr
    assert time.monotonic() - started < 60


def test_a_dask_scheduler_that_refuses_or_is_not_one_is_named_as_such(tmp_path):
    pytest.importorskip("dask.distributed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once this socket is closed
    done = command("decide", str(CASES_DIR / "active-spms-is-approved.yaml"), "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{closed}")
    assert done.returncode == 4 and f"--scheduler tcp://127.0.0.1:{closed}: cannot reach a Dask scheduler there" in done.stderr
    assert "standard output" not in done.stderr and "memory" not in done.stderr

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    quiet = threading.Event()

    def answer() -> None:  # an SSH server speaks first; an HTTP server waits for the client
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            if quiet.is_set():
                time.sleep(2)
            else:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        done = command("decide", str(CASES_DIR / "active-spms-is-approved.yaml"), "--executor", "dask", "--scheduler", f"127.0.0.1:{port}")
        assert done.returncode == 4 and "not a Dask scheduler (its first bytes are no Dask handshake)" in done.stderr
        quiet.set()
        with pytest.raises(SchedulerError, match=r"not a Dask scheduler \(no handshake within 0.5 s\)"):
            probe_scheduler(f"tcp://127.0.0.1:{port}", seconds=0.5)
    finally:
        server.close()


# --- names printed as what they are ---------------------------------------------------------------


def test_a_file_name_cannot_print_a_fake_decision_line(tmp_path):
    fake = "x\nEX-9: APPROVE\n\x1b[2K"
    good = tmp_path / f"{fake}.json"
    good.write_text(json.dumps(vary(INITIAL, {"id": "REAL-1", "request.days": 9})))
    bad = tmp_path / f"{fake}bad.json"
    bad.write_text("{")
    result = cli("decide", str(good), str(bad))
    output = result.stdout + result.stderr
    assert not any(line.startswith("EX-9: APPROVE") for line in output.splitlines())
    assert "\x1b" not in output
    assert "x\\nEX-9: APPROVE\\n\\x1b[2K" in output  # the name is still there, escaped
    assert result.exit_code == 2
    for args in (("explain", str(good)), ("explain", str(bad)), ("decide", str(tmp_path / f"{fake}missing.json"))):
        other = cli(*args)
        assert not any(line.startswith("EX-9: APPROVE") for line in (other.stdout + other.stderr).splitlines()), args
        assert "\x1b" not in other.stdout + other.stderr and "EX-9: APPROVE" in other.stdout + other.stderr


# --- a KB is code: its case model ---------------------------------------------------------------


def kb_with_case_model(tmp_path: Path, reference: str) -> Path:
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    manifest = kb / "policy.toml"
    manifest.write_text(manifest.read_text().replace('"lemtrada_asp.case:CASE_MODEL"', json.dumps(reference)))
    return kb


EVIL = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\nfrom lemtrada_asp.case import CASE_MODEL as X\n"


@pytest.mark.parametrize("where", ["../evil.py:X", "/tmp/../{tmp}/evil.py:X", "evil:X"])
def test_a_case_model_outside_the_kb_or_the_package_is_refused_before_it_runs(tmp_path, where, monkeypatch):
    marker = tmp_path / "ran"
    (tmp_path / "evil.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))  # even where it would import
    kb = kb_with_case_model(tmp_path, where.format(tmp=str(tmp_path).lstrip("/")))
    result = cli("decide", str(CASES_DIR / "active-spms-is-approved.yaml"), "--kb", str(kb))
    assert result.exit_code == 3, result.output
    assert "case_model" in result.output and ("outside the knowledge base" in result.output or "not part of the installed" in result.output)
    assert not marker.exists()


@pytest.mark.slow
def test_check_kb_says_a_kb_with_its_own_python_case_model_is_code(tmp_path):
    kb = kb_with_case_model(tmp_path, "own_model.py:X")
    (kb / "own_model.py").write_text("from lemtrada_asp.case import CASE_MODEL as X\n")
    result = cli("check-kb", "--kb", str(kb))
    assert result.output.startswith("note: this knowledge base is code: its case model") and "own_model.py" in result.output
    assert "Sound" in result.output and result.exit_code == 0
    shipped = cli("check-kb")
    assert "is code" not in shipped.output


# --- includes stay inside the KB -----------------------------------------------------------------


@pytest.mark.parametrize("include", ['"/etc/passwd"', '"../outside.lp"', '"link.lp"'])
def test_an_include_outside_the_kb_is_a_kb_error_naming_it(tmp_path, include):
    import shutil

    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    (tmp_path / "outside.lp").write_text("secret.\n")
    (kb / "link.lp").symlink_to(tmp_path / "outside.lp")
    with (kb / "lemtrada.lp").open("a") as f:
        f.write(f"\n#include {include}.\n")
    result = cli("decide", str(CASES_DIR / "active-spms-is-approved.yaml"), "--kb", str(kb))
    assert result.exit_code == 3
    assert f"#include {include} is outside the knowledge base" in result.output and "lemtrada.lp:" in result.output

"""Hardening (issue 10): input the case format refuses, an edited KB that never ends, processes
and output that must not be left half-done, paths walked without skipping anything in silence.

Commands that must really end a process (a timeout, a signal, a closed pipe, a full disk)
run as subprocesses of `python -m lemtrada_asp`; the rest go through click's CliRunner or
the engine. Every decision goes through clingo with the shipped KB.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CASES_DIR, CONTINUATION, INITIAL, KB_DIR, REPO, vary
from lemtrada_asp.case.model import validate_case
from lemtrada_asp.cli import main
from lemtrada_asp.engine import batch
from lemtrada_asp.engine.errors import CaseValidationError

TRIED = {"inputs": 0}


def run(*args: str, input: str | None = None):
    TRIED["inputs"] += 1
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lemtrada_asp", *args]


ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def decided(engine, case: dict):
    [d] = engine.decide([("t", validate_case(case, "t"))], details=True)
    return d


def write_case(path: Path, case: dict) -> Path:
    path.write_text(json.dumps(case))
    return path


# --- the case format: placeholders, identical courses, undotted codes, enum case ------------


@pytest.mark.parametrize("entry", ["none", "None", "N/A", "n/a", "na", "NO", "nil", "-", " none ", "\u200b", "\u200bnone\u200d"])
def test_a_placeholder_in_active_infections_is_an_input_error_naming_the_field(entry):
    TRIED["inputs"] += 1
    with pytest.raises(CaseValidationError) as raised:
        validate_case(vary(INITIAL, {"active_infections": ["pneumonia", entry]}), "t")
    [problem] = raised.value.problems
    assert problem.field == "active_infections[1]"
    assert "placeholder" in problem.message or "format characters" in problem.message


def test_a_documented_infection_still_fails_i5_and_is_excluded(engine):
    d = decided(engine, vary(INITIAL, {"active_infections": ["nonelike pneumonia"]}))
    assert d.decision == "deny" and {f.id for f in d.failed} == {"I5", "E5"}


def test_two_identical_prior_courses_are_an_input_error():
    TRIED["inputs"] += 1
    course = {"start_date": "2025-03-01", "days": 5}
    with pytest.raises(CaseValidationError) as raised:
        validate_case(vary(CONTINUATION, {"lemtrada_courses": [course, dict(course)]}), "t")
    assert [p.field for p in raised.value.problems] == ["lemtrada_courses[1]"]
    assert "the same course as lemtrada_courses[0]" in raised.value.problems[0].message


def test_two_courses_on_the_same_day_with_different_days_overlap_and_are_an_input_error_naming_both():
    # case-format.md (this round): two prior courses that overlap are an input error naming both entries
    TRIED["inputs"] += 1
    with pytest.raises(CaseValidationError) as raised:
        validate_case(vary(CONTINUATION, {"lemtrada_courses": [{"start_date": "2024-03-01", "days": 5},
                                                               {"start_date": "2024-03-01", "days": 3}]}), "t")
    [problem] = raised.value.problems
    assert problem.field == "lemtrada_courses[1]" and "lemtrada_courses[0]" in problem.message


def test_two_courses_a_year_apart_are_two_courses(engine):
    d = decided(engine, vary(CONTINUATION, {"lemtrada_courses": [{"start_date": "2024-03-01", "days": 5},
                                                                 {"start_date": "2025-03-01", "days": 3}]}))
    assert d.to_json()["course"] == 3


@pytest.mark.parametrize("code, status", [("G35A", "met"), ("g35a", "met"), ("G35C1", "met"), ("g35d", "met"), ("G35", "met"),
                                          ("G35.A", "met"), ("K5090", "not_met"), ("G35B", "not_met")])
def test_the_undotted_claim_form_of_a_code_is_the_same_code(engine, code, status):
    d = decided(engine, vary(INITIAL, {"request.diagnosis_codes": [code]}))
    assert d.statuses()["B1"] == status
    if status == "not_met":  # the evidence quotes the code as the case wrote it
        because = [e.text for f in d.failed if f.id == "B1" for r in f.reasons for e in r.because]
        assert any(json.dumps(code) in line for line in because)


@pytest.mark.parametrize(
    "changes",
    [
        {"prescriber.specialty": "Neurology"},
        {"prescriber.specialty": "MS_SPECIALIST"},
        {"prescriber.specialty": "ms specialist"},
        {"diagnosis.ms_course": "Relapsing-Remitting"},
        {"dmt_history": [{"drug": "Tysabri", "outcome": "FAILED"}, {"drug": "GILENYA", "outcome": "Intolerant"}]},
    ],
)
def test_every_enumerated_value_is_case_insensitive_as_drug_names_are(engine, changes):
    d = decided(engine, vary(INITIAL, changes))
    assert d.decision == "approve"


def test_response_items_are_case_insensitive(engine):
    d = decided(engine, vary(CONTINUATION, {"response": {"objective": ["MRI_Activity_Reduced"], "symptoms": ["Walking-Gait"]}}))
    assert d.decision == "approve" and d.statuses()["C2.a"] == d.statuses()["C2.b"] == "met"


# --- an edited KB that never ends: --timeout and --memory -----------------------------------


@pytest.fixture(scope="module")
def looping_kb(tmp_path_factory) -> Path:
    kb = tmp_path_factory.mktemp("loop") / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "hooks.lp").open("a") as f:
        f.write("\nn(0). n(X+1) :- n(X).\n")
    return kb


CASE = str(CASES_DIR / "active-spms-is-approved.yaml")


@pytest.mark.parametrize(
    "args",
    [("decide", CASE), ("check-kb",)],
    ids=["decide", "check-kb"],
)
def test_a_kb_that_grounds_forever_stops_at_the_timeout_with_exit_3_naming_the_part(looping_kb, args):
    TRIED["inputs"] += 1
    started = time.monotonic()
    done = subprocess.run(command(*args, "--kb", str(looping_kb), "--timeout", "2"), env=ENV, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 3, done.stderr
    assert "time (--timeout 2 s) ran out while grounding the decision program" in done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < 2 + 6  # start-up, then the deadline, then exit at once


def test_a_kb_that_grounds_forever_stops_at_the_memory_bound_with_exit_3(looping_kb):
    TRIED["inputs"] += 1
    done = subprocess.run(command("decide", CASE, "--kb", str(looping_kb), "--memory", "200", "--timeout", "50"),
                          env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    assert "memory (--memory 200 MB) ran out while grounding the decision program" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["decide", "explain", "letter", "test", "diff", "check-kb", "generate"])
def test_every_command_that_grounds_or_solves_takes_timeout_and_memory(name):
    help_text = run(name, "--help").output
    assert "--timeout" in help_text and "--memory" in help_text


def test_a_sound_kb_is_unaffected_by_the_bounds():
    result = run("decide", CASE, "--timeout", "60", "--memory", "4096")
    assert result.exit_code == 0 and "APPROVE" in result.output


# --- processes: signals, --jobs, a closed pipe, a slow standard input -----------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    from lemtrada_asp.analysis.generate import generate_cases

    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in generate_cases(3_000, 7)))
    return path


@pytest.fixture(scope="module")
def bigger(big) -> Path:
    """big's cases ten times over under new ids: long enough that a signal sent once output
    has begun lands mid-run even on a quiet machine, where the cache decides big in ~1 s."""
    path = big.with_name("bigger.jsonl")
    cases = [json.loads(line) for line in big.read_text().splitlines()]
    path.write_text("".join(json.dumps({**c, "id": f"{c['id']}-{n}"}) + "\n" for n in range(10) for c in cases))
    return path


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_and_wait_for_output(args: list[str], out: Path):
    sink = out.open("wb")
    process = subprocess.Popen(command(*args), env=ENV, stdout=sink, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 40
    while out.stat().st_size == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    return process, sink


def _whole_lines(out: Path, err: bytes, total: int) -> None:
    text = err.decode()
    assert "Traceback" not in text
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b""  # whole lines only
    written = [json.loads(line) for line in lines[:-1]]
    assert 0 < len(written) < total
    assert f"{len(written):,} case{'s' if len(written) != 1 else ''} written" in text


def test_sigterm_stops_the_workers_and_the_resource_tracker_keeps_whole_lines_exits_143(bigger, tmp_path):
    TRIED["inputs"] += 1
    out = tmp_path / "out.jsonl"
    process, sink = _start_and_wait_for_output(["decide", str(bigger), "--jobs", "2", "--format", "json"], out)
    deadline = time.monotonic() + 30
    children = _children(process.pid)
    while len(children) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)  # the first chunk is decided here before the workers are forked
        children = _children(process.pid)
    assert len(children) >= 2  # two workers (forked on Linux; spawned ones come with a resource tracker too)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    sink.close()
    assert process.returncode == 143, err
    _whole_lines(out, err, 30_000)
    time.sleep(0.5)
    assert [c for c in children if _running(c)] == []  # no worker (and no resource tracker) left


def test_sigint_stops_a_batch_between_lines_and_exits_130(bigger, tmp_path):
    TRIED["inputs"] += 1
    out = tmp_path / "out.jsonl"
    process, sink = _start_and_wait_for_output(["decide", str(bigger), "--jobs", "1", "--format", "json"], out)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    sink.close()
    assert process.returncode == 130, err
    _whole_lines(out, err, 30_000)


def test_jobs_zero_or_negative_is_refused_with_exit_2():
    for jobs in ("0", "-3"):
        result = run("decide", CASE, "--jobs", jobs)
        assert result.exit_code == 2 and "--jobs" in result.output


def test_jobs_are_capped_at_the_cores_available(monkeypatch, engine):
    from concurrent.futures import ThreadPoolExecutor

    started: list[int] = []

    def pool(engine_, options, jobs):  # threads with this engine stand in for worker processes
        started.append(jobs)
        return ThreadPoolExecutor(max_workers=jobs)

    monkeypatch.setattr(batch, "_pool", pool)
    monkeypatch.setattr(batch, "_worker_engine", engine)
    records = [batch.Record(f"r{i}", data=vary(INITIAL, {"id": f"J-{i}"})) for i in range(6)]
    results = list(batch.decide_paths((), engine, jobs=1000, chunk=2, records=records))
    assert [r.record.case_id for r in results] == [f"J-{i}" for i in range(6)]
    # One pool of one process a worker (batch._Dealer deals each case to one of them).
    assert started == ([1] * batch.default_jobs() if batch.default_jobs() > 1 else [])
    assert batch.capped_jobs(1000) == batch.default_jobs() and batch.capped_jobs(1) == 1


def test_a_closed_pipe_ends_quietly(big):
    TRIED["inputs"] += 1
    process = subprocess.Popen(command("decide", str(big), "--jobs", "1", "--format", "json"),
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()  # `| head -1`
    _, err = process.communicate(timeout=30)
    assert json.loads(first)["case_id"]
    assert err.decode() == "" and process.returncode == 141


def test_a_slow_standard_input_is_decided_as_it_arrives():
    TRIED["inputs"] += 1
    process = subprocess.Popen(command("decide", "-", "--format", "json", "--no-corrections"),
                               env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for i in range(5):
            process.stdin.write((json.dumps(vary(INITIAL, {"id": f"S-{i}"})) + "\n").encode())
        process.stdin.flush()  # and the input stays open, like a terminal
        got, deadline = b"", time.monotonic() + 15
        while got.count(b"\n") < 5 and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.5)
            if ready:
                got += os.read(process.stdout.fileno(), 65536)
        assert [json.loads(line)["case_id"] for line in got.splitlines()] == [f"S-{i}" for i in range(5)]
    finally:
        process.stdin.close()
        process.wait(timeout=20)
    assert process.returncode == 0


# --- I/O errors: exit status 4, a plain message ----------------------------------------------


def test_a_full_disk_is_an_io_error_with_exit_4():
    TRIED["inputs"] += 1
    with open("/dev/full", "w") as full:
        done = subprocess.run(command("decide", CASE), env=ENV, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 4
    assert done.stderr.strip() == "error: cannot write standard output: No space left on device"


@pytest.mark.parametrize("args", [("letter", CASE, "--out"), ("generate", "--n", "3", "--out")], ids=["letter", "generate"])
def test_an_unwritable_out_is_an_io_error_with_exit_4(tmp_path, args):
    target = tmp_path / "missing-dir" / "x.out"
    result = run(*args, str(target))
    assert result.exit_code == 4
    assert f"error: cannot write {target}: No such file or directory" in result.stderr


def test_an_unreadable_input_file_is_an_io_error_with_exit_4_and_the_others_are_decided(tmp_path, monkeypatch):
    good = write_case(tmp_path / "a.json", vary(INITIAL, {"id": "GOOD"}))
    locked = write_case(tmp_path / "b.json", vary(INITIAL, {"id": "LOCKED"}))
    real_open = Path.open

    def refusing(self, *a, **k):  # root reads any file: the permission error is simulated
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", refusing)
    result = run("decide", str(good), str(locked), "--format", "json")
    assert result.exit_code == 4
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert outputs[0]["case_id"] == "GOOD" and outputs[1]["error"] == "io_error"
    assert f"{locked}: cannot read: Permission denied" in result.stderr
    assert "the others were decided" in result.stderr


def test_an_unreadable_subdirectory_is_reported_with_exit_4(tmp_path, monkeypatch):
    write_case(tmp_path / "a.json", vary(INITIAL, {"id": "SEEN"}))
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    write_case(hidden / "b.json", vary(INITIAL, {"id": "HIDDEN"}))
    real_scandir = os.scandir

    def refusing(path="."):
        if Path(path) == hidden:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    result = run("decide", str(tmp_path), "--format", "json", "--no-corrections")
    assert result.exit_code == 4
    assert f"{hidden}: cannot read directory: Permission denied" in result.stderr
    assert [json.loads(line).get("case_id") for line in result.stdout.splitlines()] == ["SEEN", None]


def test_an_unreadable_subdirectory_as_a_user_without_permission():
    # For real where the tools and the interpreter allow it (a non-root user can run Python).
    import tempfile

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to switch to a user without permission")
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if subprocess.run([*as_nobody, sys.executable, "-c", "import lemtrada_asp"], env=ENV, capture_output=True).returncode:
        pytest.skip("the interpreter or the code is not readable by an unprivileged user here")
    root = Path(tempfile.mkdtemp(prefix="lemtrada-perm-"))
    try:
        root.chmod(0o755)
        write_case(root / "a.json", vary(INITIAL, {"id": "SEEN"})).chmod(0o644)
        locked = root / "locked"
        locked.mkdir()
        write_case(locked / "b.json", INITIAL)
        locked.chmod(0)
        done = subprocess.run([*as_nobody, *command("decide", str(root), "--no-corrections")],
                              env=ENV, capture_output=True, text=True, timeout=60)
        assert done.returncode == 4, done.stderr
        assert f"{locked}: cannot read directory: Permission denied" in done.stderr
        assert "SEEN: APPROVE" in done.stdout and "the others were decided" in done.stderr
    finally:
        locked.chmod(0o755)
        shutil.rmtree(root)


# --- walking paths: nothing skipped in silence ------------------------------------------------


def test_a_directory_walk_decides_or_reports_every_entry(tmp_path):
    TRIED["inputs"] += 7
    root = tmp_path / "cases"
    (root / "sub").mkdir(parents=True)
    write_case(root / "sub" / "upper.YAML", vary(INITIAL, {"id": "UPPER"}))  # JSON is YAML
    (root / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(vary(INITIAL, {"id": "BOM"})).encode())
    crlf = b"".join(json.dumps(vary(INITIAL, {"id": f"CRLF-{i}"})).encode() + b"\r\n" for i in range(3))
    (root / "crlf.jsonl").write_bytes(b"\xef\xbb\xbf" + crlf + b"\r\n")  # as Windows writes it: a BOM, CRLF
    (root / "dangling.json").symlink_to(root / "nowhere.json")
    (root / "sub" / "loop").symlink_to(root)
    os.mkfifo(root / "fifo.json")
    weird = os.fsencode(root) + b"/name-\xff.json"
    with open(weird, "w") as f:
        f.write(json.dumps(vary(INITIAL, {"id": "WEIRD"})))
    (root / "notes.txt").write_text("not a case")
    result = CliRunner().invoke(main, ["decide", str(root), "--format", "json", "--no-corrections"])
    lines = [json.loads(line) for line in result.stdout_bytes.decode("utf-8").splitlines()]  # valid UTF-8 and JSON
    ids = [line.get("case_id") for line in lines if "error" not in line]
    assert sorted(ids) == sorted(["BOM", "CRLF-0", "CRLF-1", "CRLF-2", "UPPER", "WEIRD"])
    errors = {Path(line["source"]).name: line["problems"][0]["message"] for line in lines if "error" in line}
    assert errors.keys() == {"dangling.json", "fifo.json", "loop"}
    assert "dangling symbolic link" in errors["dangling.json"]
    assert "FIFO" in errors["fifo.json"] and "symbolic link loop" in errors["loop"]
    assert any(line.get("source", "").endswith("name-\\xff.json") for line in lines)
    assert result.exit_code == 2


def test_crlf_json_lines_with_a_bom_on_standard_input_decide_every_line():
    text = "\ufeff" + "".join(json.dumps(vary(INITIAL, {"id": f"L-{i}"})) + "\r\n" for i in range(3))
    result = run("decide", "-", "--format", "json", "--no-corrections", input=text)
    assert result.exit_code == 0
    assert [json.loads(line)["case_id"] for line in result.stdout.splitlines()] == ["L-0", "L-1", "L-2"]


def test_a_bom_on_standard_input_is_read_normally():
    result = run("decide", "-", "--format", "json", "--no-corrections", input="\ufeff" + json.dumps(INITIAL))
    assert result.exit_code == 0 and json.loads(result.stdout)["case_id"] == "T-INITIAL"


# --- atomic output files ----------------------------------------------------------------------


def test_two_generates_writing_the_same_file_at_once_leave_one_whole_corpus(tmp_path):
    TRIED["inputs"] += 2
    from lemtrada_asp.analysis.generate import generate_cases

    out = tmp_path / "same.jsonl"
    runs = [subprocess.Popen(command("generate", "--n", "1500", "--seed", str(seed), "--out", str(out)), env=ENV)
            for seed in (1, 2)]
    assert [p.wait(timeout=60) for p in runs] == [0, 0]
    text = out.read_text()
    assert text in {"".join(json.dumps(c, ensure_ascii=False) + "\n" for c in generate_cases(1500, seed)) for seed in (1, 2)}
    assert [p.name for p in tmp_path.iterdir()] == ["same.jsonl"]  # no temporary file left


def test_a_letter_written_with_out_replaces_the_file_whole(tmp_path):
    out = tmp_path / "letter.md"
    out.write_text("old")
    assert run("letter", CASE, "--out", str(out), "--date", "2026-05-04").exit_code == 0
    assert out.read_text().startswith("> **DRAFT") and [p.name for p in tmp_path.iterdir()] == ["letter.md"]
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # as open() makes it, not mkstemp's 0600


# --- messages -------------------------------------------------------------------------------


def test_a_date_that_does_not_exist_is_said_to_not_exist():
    result = run("letter", CASE, "--date", "2026-02-30")
    assert result.exit_code == 2
    assert "2026-02-30 does not exist: February 2026 has 28 days" in result.output


def test_the_others_were_decided_only_when_there_were_others(tmp_path):
    bad = write_case(tmp_path / "bad.json", vary(INITIAL, {"request.days": 0}))
    good = write_case(tmp_path / "good.json", INITIAL)
    alone = run("decide", str(bad))
    assert alone.exit_code == 2 and "the others" not in alone.stderr and "no case was decided" in alone.stderr
    mixed = run("decide", str(bad), str(good))
    assert mixed.exit_code == 2 and "1 invalid case; the others were decided." in mixed.stderr


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"hardening (test_hardening.py): {TRIED['inputs']} inputs and conditions tried, 0 crashes")

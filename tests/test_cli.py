"""The command line, through click's CliRunner: outputs, exit statuses, errors as messages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from conftest import CASES_DIR, INITIAL, KB_DIR, REPO, vary
from lemtrada_asp.cli import COMMANDS, main

SCHEMA = json.loads((Path(__file__).parent / "decision-format.schema.json").read_text())


@pytest.fixture
def run():
    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_decide_prints_a_readable_summary(run, tmp_path):
    case = write(tmp_path / "c.json", vary(INITIAL, {"request.days": 3}))
    result = run("decide", str(case))
    assert result.exit_code == 0
    assert "T-INITIAL: DENY" in result.output
    assert "I7  Dose within labeling" in result.output and "[Initial criteria, 7]" in result.output
    assert "because request.days: 3" in result.output


def test_an_approval_shows_the_authorised_course_and_advisories(run, tmp_path):
    result = run("decide", str(write(tmp_path / "c.json", INITIAL)))
    assert "Authorized: 60 mg (12 mg/day on 5 consecutive days); J0202 x 60 units" in result.output
    assert "Advisories:" in result.output


def test_decide_json_of_every_example_case_matches_the_decision_format(run):
    result = run("decide", str(CASES_DIR), "--format", "json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # standard error notes the example cases dated before the KB's effective date
    assert len(lines) >= 30
    for line in lines:
        jsonschema.validate(json.loads(line), SCHEMA)


def test_yaml_jsonl_and_stdin_are_read(run, tmp_path):
    yaml_case = write(tmp_path / "c.yaml", "id: Y-1\nrequest: {date: 2026-05-01, dose_mg_per_day: 12, days: 5}\n")
    jsonl = write(tmp_path / "many.jsonl", "\n".join(json.dumps(vary(INITIAL, {"id": f"L-{i}"})) for i in range(3)) + "\n")
    result = run("decide", str(yaml_case), str(jsonl), "-", "--format", "json", input=json.dumps(vary(INITIAL, {"id": "S-1"})))
    assert result.exit_code == 0
    got = [json.loads(line) for line in result.output.splitlines()]
    assert [(d["case_id"], d["decision"]) for d in got] == [
        ("Y-1", "pend"), ("L-0", "approve"), ("L-1", "approve"), ("L-2", "approve"), ("S-1", "approve")
    ]
    assert got[1]["source"] == f"{jsonl}:1"


def test_a_bad_case_in_a_batch_exits_2_and_the_others_are_still_decided(run, tmp_path):
    lines = [json.dumps(vary(INITIAL, {"id": "G-1"})), "{not json", json.dumps(vary(INITIAL, {"id": "G-2", "request.days": 0})),
             json.dumps(vary(INITIAL, {"id": "G-1"})), json.dumps(vary(INITIAL, {"id": "G-3"}))]
    batch = write(tmp_path / "b.jsonl", "\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["decide", str(batch), "--format", "json"])
    assert result.exit_code == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("decision", o.get("error")) for o in out] == ["approve", "invalid_input", "invalid_input", "invalid_input", "approve"]
    assert f"{batch}:2: malformed JSON" in result.stderr
    assert f"{batch}:3: request.days:" in result.stderr
    assert f"{batch}:4: id: duplicate case id 'G-1', first used at {batch}:1" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_case_file_names_file_field_and_expectation(run, tmp_path):
    bad = write(tmp_path / "bad.yaml", "id: B-1\nrequest: {date: 2026-05-01, dose_mg_per_day: 12, days: 5}\nmember: {state: XX}\n")
    result = CliRunner().invoke(main, ["decide", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: member.state: expected a two-letter US state code, got 'XX'" in result.stderr


def test_a_missing_file_is_an_input_error_not_a_crash(run, tmp_path):
    result = CliRunner().invoke(main, ["decide", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_a_kb_that_does_not_load_exits_3_with_clingos_file_and_line(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "hooks.lp").open("a") as f:
        f.write("\nthis is not asp :- .\n")
    case = write(tmp_path / "c.json", INITIAL)
    result = CliRunner().invoke(main, ["decide", str(case), "--kb", str(kb)])
    assert result.exit_code == 3
    assert "knowledge base error" in result.stderr
    assert "hooks.lp:" in result.stderr and "syntax error" in result.stderr


def test_a_kb_that_gives_two_decisions_exits_3(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "hooks.lp").open("a") as f:
        f.write("\ndecision(K, approve, none) :- case(K).\n")
    case = write(tmp_path / "c.json", vary(INITIAL, {"request.days": 3}))
    result = CliRunner().invoke(main, ["decide", str(case), "--kb", str(kb)])
    assert result.exit_code == 3
    assert "decisions(2)" in result.stderr


def test_a_leaf_without_a_rule_is_a_kb_fault_not_a_silent_pass(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    text = (kb / "criteria/i2_age.lp").read_text()
    (kb / "criteria/i2_age.lp").write_text(text.replace('finding(K, "I2", met', 'finding(K, "I2x", met'))
    result = CliRunner().invoke(main, ["decide", str(write(tmp_path / "c.json", INITIAL)), "--kb", str(kb)])
    assert result.exit_code == 3 and 'unjudged("I2")' in result.stderr


def test_kb_version_is_a_hash_of_the_kb_files(tmp_path, run):
    case = str(write(tmp_path / "c.json", INITIAL))
    shipped = json.loads(run("decide", case, "--format", "json").output)["kb_version"]
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    assert json.loads(run("decide", case, "--format", "json", "--kb", str(kb)).output)["kb_version"] == shipped
    with (kb / "state_mandates.lp").open("a") as f:
        f.write("% a comment changes the version too\n")
    assert json.loads(run("decide", case, "--format", "json", "--kb", str(kb)).output)["kb_version"] != shipped


def test_help_describes_decide(run):
    result = run("decide", "--help")
    assert "--format [text|json]" in result.output and "--kb" in result.output and ".jsonl" in result.output


def test_help_lists_every_command_with_its_own_summary_and_suggests_the_nearest_name(run):
    rows = {line.split()[0]: line for line in run("--help").output.split("Commands:")[1].splitlines() if line.strip()}
    assert list(rows) == sorted(COMMANDS)
    for name in COMMANDS:  # each imported only when named
        command = main.get_command(None, name)
        assert command.name == name and command.get_short_help_str(40)[:20] in rows[name]
    assert "No such command 'decid'. Did you mean 'decide'?" in run("decid").output


# Runs the command line as `python -m lemtrada_asp ARGS` does, then lists every module it imported
# (at exit: an exit handler also keeps the run from leaving without the interpreter's teardown).
MODULES_OF_A_RUN = """
import atexit, runpy, sys
atexit.register(lambda: print(*sorted(sys.modules), file=sys.stderr))
sys.argv = ["lemtrada-asp", *sys.argv[1:]]
runpy.run_module("lemtrada_asp", run_name="__main__", alter_sys=True)
"""


def test_a_one_case_json_run_imports_only_what_deciding_it_needs(tmp_path):
    """A fresh process pays for every module it imports: deciding one JSON case loads no
    YAML, no other command, no renderer, workbench, notice or service, and no overlays."""
    case = write(tmp_path / "c.json", INITIAL)
    done = subprocess.run([sys.executable, "-c", MODULES_OF_A_RUN, "decide", str(case), "--format", "json"],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["case_id"] == "T-INITIAL"
    loaded = set(done.stderr.split())
    commands = {f"lemtrada_asp.cli.{name}" for name in ("decide", "options", "progress")}
    unneeded = {m for m in loaded if m.split(".")[0] in ("yaml", "jinja2", "tqdm") or m.startswith((
        "lemtrada_asp.analysis", "lemtrada_asp.render", "lemtrada_asp.notices", "lemtrada_asp.service",
        "lemtrada_asp.engine.overlay", "lemtrada_asp.engine.versions", "lemtrada_asp.engine.yamlcase",
    )) or m.startswith("lemtrada_asp.cli.") and m not in commands}
    assert "lemtrada_asp.cli.decide" in loaded and unneeded == set()
    # A valid case is validated by the fast path: no pydantic, nor importlib.metadata (its plugin loader's).
    assert not {m for m in loaded if m.split(".")[0] == "pydantic" or m.startswith("importlib.metadata")}


def run_module(*args: str, verbose: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """`python -m lemtrada_asp ARGS` in a fresh process; verbose: with -v, whose teardown says "# cleanup"."""
    return subprocess.run([sys.executable, *(["-v"] if verbose else []), "-m", "lemtrada_asp", *args],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300, **kwargs)


def test_a_successful_decide_leaves_without_the_teardown_and_every_line_is_written(tmp_path):
    expected = CliRunner().invoke(main, ["decide", str(CASES_DIR), "--format", "json"])
    assert expected.exit_code == 0 and expected.stdout.count("\n") > 50
    piped = run_module("decide", str(CASES_DIR), "--format", "json", verbose=True, capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stdout == expected.stdout
    assert "# cleanup" not in piped.stderr  # os._exit after the flush: no module was torn down
    with (tmp_path / "out.jsonl").open("w") as out:  # a file: block-buffered, flushed before leaving
        done = run_module("decide", str(CASES_DIR), "--format", "json", stdout=out, stderr=subprocess.PIPE)
    assert done.returncode == 0 and (tmp_path / "out.jsonl").read_text() == expected.stdout


def test_a_decide_that_fails_exits_the_normal_way_with_its_status_and_message(tmp_path):
    bad = write(tmp_path / "bad.json", {"id": "B-1"})
    done = run_module("decide", str(bad), "--format", "json", verbose=True, capture_output=True, text=True)
    assert done.returncode == 2
    assert json.loads(done.stdout)["case_id"] == "B-1" and "bad.json: request: required field is missing" in done.stderr
    assert "# cleanup" in done.stderr  # not the quick exit: only a successful run takes it


def test_a_command_that_did_not_say_so_exits_the_normal_way(tmp_path):
    done = run_module("criteria", verbose=True, capture_output=True, text=True)
    assert done.returncode == 0 and "# cleanup" in done.stderr

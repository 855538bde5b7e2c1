"""`test`: case files against their expected outcomes, and rule coverage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import CASES_DIR, CONTINUATION, INITIAL, KB_DIR, vary
from lemtrada_asp.cli import main
from lemtrada_asp.engine.loading import is_case_file


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def suite(tmp_path: Path, cases: dict[str, tuple[dict, dict | str | None]]) -> Path:
    """A directory of NAME.json cases with NAME.expected.yaml beside each (None: no expectation)."""
    folder = tmp_path / "suite"
    folder.mkdir()
    for name, (case, expected) in cases.items():
        (folder / f"{name}.json").write_text(json.dumps(case))
        if expected is not None:
            text = expected if isinstance(expected, str) else yaml.safe_dump(expected)
            (folder / f"{name}.expected.yaml").write_text(text)
    return folder


def test_the_shipped_suite_passes_with_a_pass_line_per_case():
    result = invoke("test", str(CASES_DIR))
    count = sum(1 for p in CASES_DIR.iterdir() if is_case_file(p))
    assert result.exit_code == 0, result.output
    assert sum(line.startswith("PASS ") for line in result.output.splitlines()) == count
    assert f"{count} cases: {count} passed, 0 failed" in result.output


def test_without_paths_the_example_suite_of_the_checkout_is_run():
    result = invoke("test")
    assert result.exit_code == 0 and "PASS " in result.output and "cases/" in result.output


def test_a_failing_case_exits_1_with_a_readable_diff(tmp_path):
    folder = suite(tmp_path, {
        "ok": (INITIAL, {"decision": "approve", "authorized_mg": 60}),
        "wrong": (vary(INITIAL, {"id": "W-1", "request.days": 3}), {"decision": "approve", "failed": [], "authorized_mg": 60}),
    })
    result = invoke("test", str(folder))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("PASS ") and "ok.json" in line for line in lines)
    fail = next(i for i, line in enumerate(lines) if line.startswith("FAIL "))
    assert "wrong.json (W-1)" in lines[fail]
    assert lines[fail + 1].strip() == "decision: expected approve, decided deny"
    assert lines[fail + 2].strip() == "failed: expected [], decided [I7]  (+I7)"
    assert lines[fail + 3].strip() == "authorized_mg: expected 60, decided none"
    assert "2 cases: 1 passed, 1 failed" in result.output


def test_a_case_without_an_expected_outcome_fails(tmp_path):
    result = invoke("test", str(suite(tmp_path, {"lonely": (INITIAL, None)})))
    assert result.exit_code == 1 and "no expected outcome" in result.output


def test_an_expectation_with_an_unknown_key_is_invalid_input(tmp_path):
    result = invoke("test", str(suite(tmp_path, {"typo": (INITIAL, "decison: approve\n")})))
    assert result.exit_code == 2
    assert "typo.expected.yaml: decison: unknown expectation" in result.output


def test_json_gives_one_object_per_case_and_a_summary(tmp_path):
    folder = suite(tmp_path, {"a": (INITIAL, {"decision": "deny"})})
    result = invoke("test", str(folder), "--format", "json")
    records = [json.loads(line) for line in result.output.splitlines()]
    assert records[0]["result"] == "fail" and records[0]["differences"] == ["decision: expected deny, decided approve"]
    assert records[-1] == {"summary": {"cases": 1, "passed": 0, "failed": 1, "invalid": 0}}


def test_coverage_counts_statuses_and_separates_impossible_from_unexercised(tmp_path):
    folder = suite(tmp_path, {
        "approve": (INITIAL, {"decision": "approve"}),
        "young": (vary(INITIAL, {"id": "Y-1", "member.birth_date": "2010-01-01"}), {"decision": "deny"}),
    })
    result = invoke("test", str(folder), "--coverage", "--format", "json")
    assert result.exit_code == 0, result.output
    coverage = json.loads(result.output.splitlines()[-1])["coverage"]
    rows = {row["id"]: row for row in coverage["criteria"]}
    assert rows["I2"]["counts"] == {"met": 1, "not_met": 1, "undocumented": 0}
    assert rows["E6"]["counts"] == {"applies": 1, "does_not_apply": 1}
    assert rows["I0"]["impossible"] == ["not_met"]  # an old chart leaves I0 undocumented, never not_met
    never = {(n["id"], n["status"]) for n in coverage["never_exercised"]}
    assert ("I2", "undocumented") in never and ("I0", "not_met") not in never and ("I2", "met") not in never
    assert ("C3", "met") in never  # no continuation case in this suite
    text = invoke("test", str(folder), "--coverage").output
    assert "Rule coverage over 2 cases" in text and "Never exercised" in text and "I2 undocumented" in text


@pytest.mark.slow
def test_the_shipped_suite_exercises_every_possible_status():
    result = invoke("test", str(CASES_DIR), "--coverage", "--format", "json")
    coverage = json.loads(result.output.splitlines()[-1])["coverage"]
    assert coverage["never_exercised"] == []


def test_a_kb_with_a_syntax_error_exits_3_naming_file_and_line(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    with (kb / "exclusions.lp").open("a") as f:
        f.write("\nfinding(K, \"E9\" :- .\n")
    result = invoke("test", str(suite(tmp_path, {"a": (CONTINUATION, {"decision": "approve"})})), "--kb", str(kb))
    assert result.exit_code == 3
    assert "exclusions.lp:" in result.output and "syntax error" in result.output


def test_the_suite_runs_against_an_edited_kb(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    params = kb / "parameters.lp"
    params.write_text(params.read_text().replace("param(min_age_initial, 18).", "param(min_age_initial, 21)."))
    adult = vary(INITIAL, {"member.birth_date": "2006-01-01"})  # 20 on the request date
    folder = suite(tmp_path, {"twenty": (adult, {"decision": "approve"})})
    assert invoke("test", str(folder)).exit_code == 0
    edited = invoke("test", str(folder), "--kb", str(kb))
    assert edited.exit_code == 1 and "decision: expected approve, decided deny" in edited.output


def test_a_missing_default_suite_is_a_clear_error(monkeypatch, tmp_path):
    import lemtrada_asp.analysis.suite as suite_module

    monkeypatch.setattr(suite_module, "__file__", str(tmp_path / "pkg" / "suite.py"))
    monkeypatch.chdir(tmp_path)  # no ./cases here either
    result = invoke("test")
    assert result.exit_code == 2
    assert "no test suite given" in result.output and "Traceback" not in result.output

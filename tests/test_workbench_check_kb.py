"""`check-kb`: soundness of a KB that loads, each problem with where it is; properties over every case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import KB_DIR, edited_kb
from lemtrada_asp.cli import main




def check(*args: str):
    return CliRunner().invoke(main, ["check-kb", *args])


def line_of(kb: Path, file: str, text: str) -> str:
    lines = (kb / file).read_text().splitlines()
    return f"{kb / file}:{next(i for i, line in enumerate(lines, start=1) if text in line)}"


@pytest.mark.slow
def test_the_shipped_kb_is_sound():
    result = check("--kb", str(KB_DIR))
    assert result.exit_code == 0, result.output
    assert "Sound: no problems found." in result.output and "problem:" not in result.output


def test_a_kb_with_a_syntax_error_exits_3_with_clingos_file_and_line(tmp_path):
    kb = edited_kb(tmp_path, "catalogue.lp", append='node("I9", leaf')
    result = check("--kb", str(kb))
    assert result.exit_code == 3
    assert "catalogue.lp:" in result.output and "syntax error" in result.output


UNSOUND = [
    pytest.param("catalogue.lp", ('criterion("I6", "Lemtrada used as monotherapy', '% criterion("I6", "Lemtrada used as monotherapy'), None,
                 'node("I6", leaf)', 'node "I6" has no criterion/3 fact', id="criterion-without-title"),
    pytest.param("catalogue.lp", ('node("I7", leaf).', 'node("I7", leafy).'), None,
                 'node("I7", leafy)', "kind leafy, which the evaluator does not know", id="unknown-kind"),
    pytest.param("catalogue.lp", None, 'criterion("I9", "Nine", "Initial criteria, 9").\nnode("I9", all_of).\ntop(initial, "I9").\npolicy_order("I9", 9).',
                 'node("I9", all_of)', 'node "I9" is all_of but has no children', id="node-without-children"),
    pytest.param("catalogue.lp", None, 'child("I3", "I3.c").',
                 'child("I3", "I3.c")', 'child "I3.c" of "I3" is not declared as a node', id="undeclared-child"),
    pytest.param("catalogue.lp", ('policy_order("I6", 6). ', ''), None,
                 'top(initial', 'top-level criterion "I6" has no policy_order/2', id="missing-policy-order"),
]


@pytest.mark.slow
@pytest.mark.parametrize("file, replace, append, located_at, message", UNSOUND)
def test_an_unsound_catalogue_is_reported_with_file_and_line(tmp_path, file, replace, append, located_at, message):
    kb = edited_kb(tmp_path, file, replace=replace, append=append)
    result = check("--kb", str(kb))
    assert result.exit_code == 1, result.output
    where = f"{line_of(kb, file, located_at)}: problem: "
    assert any(line.startswith(where) and message in line for line in result.output.splitlines()), result.output
    assert "Unsound" in result.output


@pytest.mark.slow
def test_a_leaf_with_no_finding_rule_at_all_is_reported(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    rules = kb / "criteria/i2_age.lp"
    rules.write_text(rules.read_text().replace('finding(K, "I2",', 'finding(K, "I2x",'))
    result = check("--kb", str(kb))
    assert result.exit_code == 1
    where = line_of(kb, "catalogue.lp", 'node("I2", leaf)')
    assert f'{where}: problem: no rule derives a finding for leaf "I2"' in result.output


@pytest.mark.slow
def test_a_leaf_without_a_status_for_some_cases_is_found_with_those_cases(tmp_path):
    kb = edited_kb(tmp_path, "criteria/i2_age.lp", replace=('finding(K, "I2", met', 'finding(K, "I2x", met'))
    result = check("--kb", str(kb))
    assert result.exit_code == 1
    assert '"I2" gets no status' in result.output and "age: 18 or more years" in result.output


@pytest.mark.slow
def test_a_case_with_two_decisions_is_found(tmp_path):
    kb = edited_kb(tmp_path, "hooks.lp", append="decision(K, approve, none) :- case(K), member_state(K, \"TX\").")
    result = check("--kb", str(kb))
    assert result.exit_code == 1
    assert "a case gets 2 decisions" in result.output and "member.state: TX" in result.output


@pytest.mark.slow
def test_an_orphan_node_is_a_warning_not_a_problem(tmp_path):
    kb = edited_kb(tmp_path, "catalogue.lp", replace=('child("I4", ("I4.a"; "I4.b")).', 'child("I4", "I4.b").'))
    result = check("--kb", str(kb))
    assert result.exit_code == 0, result.output
    assert 'warning: node "I4.a" is not under any top-level criterion' in result.output


@pytest.mark.slow
def test_properties_of_the_shipped_kb_report_the_age_17_gap():
    result = check("--properties")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Approved while an exclusion applies: no case." in out
    assert "Criteria that can never fail (never not_met): C0, I0." in out
    initial = out.index("age, E6 (Use in pediatric members under 17 years of age), initial review:")
    assert "excluded: 0 to 16 years; approvable: 18 or more years" in out[initial:]
    assert "GAP: 17 years is neither excluded nor approvable: it always fails I2" in out[initial:]
    continuation = out.index("age, E6 (Use in pediatric members under 17 years of age), continuation review:")
    assert "approvable: 17 or more years" in out[continuation:continuation + 200]


@pytest.mark.slow
def test_a_policy_hook_that_approves_despite_an_exclusion_is_found_with_a_witness(tmp_path):
    # The engine's skeleton makes an applied exclusion a failure; a policy rule that
    # approves anyway gives the case two decisions, which check-kb finds and shows.
    kb = edited_kb(tmp_path, "hooks.lp", append='decision(K, approve, none) :- failed(K, "E3", applies).')
    result = check("--kb", str(kb))
    assert result.exit_code == 1
    assert "2 decisions" in result.output or "decisions(2)" in result.output, result.output
    # E3 applies only to a condition the vocabulary recognises as another condition
    # (criteria.md, "Condition vocabulary"): the witnesses are its terms, not "other" text
    line = next(l for l in result.output.splitlines() if "2 decisions" in l or "decisions(2)" in l)
    assert "diagnosis.condition:" in line and "crohns_disease" in line and ": other" not in line, line


@pytest.mark.slow
def test_properties_find_a_criterion_that_can_never_be_met(tmp_path):
    kb = edited_kb(tmp_path, "criteria/i7_c4_dose.lp", replace=("request_days(K, N), not request_not_consecutive(K).", "request_days(K, N), not request_not_consecutive(K), N > D."))
    result = check("--properties", "--kb", str(kb))
    assert result.exit_code == 1
    assert "PROBLEM: I7 (Dose within labeling: 12 mg/day on 5 consecutive days (60 mg)) can never be met" in result.output


def test_help_states_the_exit_codes():
    out = " ".join(CliRunner().invoke(main, ["check-kb", "--help"]).output.split())
    assert "0 sound" in out and "1 unsound" in out and "3 the knowledge base does not load" in out

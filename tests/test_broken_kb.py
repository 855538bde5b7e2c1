"""A knowledge base edited into a broken state: a clear error and exit status 3, never a decision.

Each test copies kb/ to a temporary directory, breaks the copy the way an analyst
might, and decides an ordinary case with ``--kb`` pointing at it. (test_cli.py
covers a syntax error in decision.lp, a second decision rule and a leaf without a
rule; these are the other ways.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from conftest import INITIAL, KB_DIR, edited_kb, vary
from lemtrada_asp.cli import main




def decide_with(kb: Path, tmp_path: Path, *cases: dict, extra: list[str] = ()):
    paths = []
    for i, case in enumerate(cases):
        paths.append(tmp_path / f"case{i}.json")
        paths[-1].write_text(json.dumps(case))
    return CliRunner().invoke(main, ["decide", *map(str, paths), *extra, "--kb", str(kb), "--format", "json"])


def last_line(kb: Path, file: str) -> int:
    return len((kb / file).read_text().splitlines())


def assert_kb_error(result, *words: str) -> None:
    assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("knowledge base error: "), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_a_syntax_error_names_the_file_and_line(tmp_path):
    kb = edited_kb(tmp_path, "criteria/i2_age.lp", append='finding(K, "I2", met, none) :- age(K, A) A >= 18.')
    result = decide_with(kb, tmp_path, INITIAL)
    assert_kb_error(result, "does not load", f"i2_age.lp:{last_line(kb, 'criteria/i2_age.lp')}:", "syntax error")
    assert result.stdout == ""  # the KB is checked before any case is read


def test_an_unsafe_variable_names_the_rule_and_the_variable(tmp_path):
    kb = edited_kb(tmp_path, "hooks.lp", append="decision(K, deny, Reason) :- case(K).")
    result = decide_with(kb, tmp_path, INITIAL)
    assert_kb_error(result, "does not ground", f"hooks.lp:{last_line(kb, 'hooks.lp')}:", "unsafe variables", "'Reason' is unsafe")
    assert result.stdout == ""


def test_an_include_of_a_missing_file_names_it(tmp_path):
    kb = edited_kb(tmp_path, "lemtrada.lp", append='#include "state_mandate.lp".')  # a typo: no s
    assert_kb_error(decide_with(kb, tmp_path, INITIAL), "does not load", "file could not be opened", "state_mandate.lp")


def test_a_constraint_that_rules_out_every_answer_is_a_kb_error_not_a_silence(tmp_path):
    kb = edited_kb(tmp_path, "hooks.lp", append=":- case(K).")
    result = decide_with(kb, tmp_path, INITIAL, vary(INITIAL, {"id": "T-2", "request.days": 3}))
    assert_kb_error(result, "the knowledge base has no answer")
    assert result.stdout == ""  # no case is reported decided


def test_a_constraint_against_one_decision_stops_the_batch_it_is_in(tmp_path):
    kb = edited_kb(tmp_path, "hooks.lp", append=":- decision(K, approve, _).")
    denied = vary(INITIAL, {"id": "T-DENY", "request.days": 3})
    assert_kb_error(decide_with(kb, tmp_path, denied, INITIAL), "the knowledge base has no answer")


def test_two_decisions_for_one_case_name_the_case_and_the_count(tmp_path):
    kb = edited_kb(tmp_path, "hooks.lp", append="decision(K, pend, information) :- decision(K, deny, none).")
    result = decide_with(kb, tmp_path, vary(INITIAL, {"id": "T-TWO", "request.days": 3}))
    assert_kb_error(result, "unsound for case T-TWO", "decisions(2)")


def test_a_criterion_with_two_statuses_is_a_kb_fault(tmp_path):
    kb = edited_kb(tmp_path, "criteria/i2_age.lp", append='finding(K, "I2", not_met, none) :- case(K).')
    assert_kb_error(decide_with(kb, tmp_path, INITIAL), "unsound for case T-INITIAL", 'two_statuses("I2")')


def test_a_leaf_whose_rules_are_all_gone_never_gets_a_status_and_is_a_kb_fault(tmp_path):
    kb = edited_kb(tmp_path, "criteria/b1_diagnosis_code.lp", replace=('finding(K, "B1"', 'finding(K, "B1-renamed"'))
    assert_kb_error(decide_with(kb, tmp_path, INITIAL), 'unjudged("B1")')


def test_a_composite_criterion_that_never_gets_a_status_is_a_kb_fault(tmp_path):
    kb = edited_kb(tmp_path, "catalogue.lp", replace=('node("I3", any_of)', 'node("I3", anyof)'))
    assert_kb_error(decide_with(kb, tmp_path, INITIAL), 'unjudged("I3")')


def test_a_kb_with_several_answers_is_not_deterministic(tmp_path):
    kb = edited_kb(tmp_path, "hooks.lp", append="{ second_opinion(K) } :- case(K).\n#show second_opinion/1.")
    assert_kb_error(decide_with(kb, tmp_path, INITIAL), "not deterministic")


def test_a_kb_directory_without_its_root_file_is_named(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    (kb / "lemtrada.lp").unlink()
    assert_kb_error(decide_with(kb, tmp_path, INITIAL), f"its root {kb / 'lemtrada.lp'} does not exist")


def test_a_kb_directory_without_its_manifest_is_named(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    (kb / "policy.toml").unlink()
    assert_kb_error(decide_with(kb, tmp_path, INITIAL), f"knowledge base not found: {kb / 'policy.toml'} does not exist")


def test_a_manifest_naming_a_case_model_that_does_not_load_is_named(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(KB_DIR, kb)
    manifest = kb / "policy.toml"
    manifest.write_text(manifest.read_text().replace("lemtrada_asp.case:CASE_MODEL", "lemtrada_asp.no_such_module:MODEL"))
    assert_kb_error(decide_with(kb, tmp_path, INITIAL), "case model 'lemtrada_asp.no_such_module:MODEL' does not load")


def test_a_broken_kb_outranks_bad_input_exit_3_not_2(tmp_path):
    kb = edited_kb(tmp_path, "hooks.lp", append=":- case(K).")
    result = decide_with(kb, tmp_path, {"id": "bad id!"}, INITIAL, extra=[str(tmp_path / "missing.json")])
    assert_kb_error(result, "the knowledge base has no answer")


def test_the_shipped_kb_decides_the_same_case_after_all_this(tmp_path):
    # the copies above were edited, never kb/ itself
    result = CliRunner().invoke(main, ["decide", str(decide_case_file(tmp_path)), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["decision"] == "approve"


def decide_case_file(tmp_path: Path) -> Path:
    path = tmp_path / "initial.json"
    path.write_text(json.dumps(INITIAL))
    return path

"""`diff`: the impact of a KB edit, on a corpus and on every possible case.

The three edits are the README's worked examples, made on copies of kb/ in tmp_path.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import INITIAL, KB_DIR, REPO, vary
from lemtrada_asp.analysis.changes import compare_paths
from lemtrada_asp.cli import main
from lemtrada_asp.analysis.generate import generate_cases
from lemtrada_asp.analysis.impact import ImpactAnalysis
from lemtrada_asp.case.model import validate_case

ANY_DMT_RULES = """
% Analyst edit: step therapy is "one prior disease-modifying therapy of any kind,
%  tried and failed or unable to use".
needed("I4", "records of a disease-modifying therapy tried and failed, or of why the member cannot use it").
finding(K, "I4", met, dmt_trial(K, I, D, O)) :- dmt_trial(K, I, D, O), qualifying_outcome(O).
finding(K, "I4", not_met, dmt_trial(K, I, D, O)) :- dmt_trial(K, I, D, O), not any_dmt_qualified(K).
finding(K, "I4", undocumented, absent("dmt_history")) :- case(K), not any_dmt_tried(K).
any_dmt_qualified(K) :- dmt_trial(K, _, _, O), qualifying_outcome(O).
any_dmt_tried(K) :- dmt_trial(K, _, _, _).
"""


def copy_kb(tmp_path: Path, name: str) -> Path:
    kb = tmp_path / name
    shutil.copytree(KB_DIR, kb)
    return kb


def edit(path: Path, old: str | None, new: str) -> None:
    text = path.read_text()
    if old is None:
        path.write_text(text.rstrip("\n") + "\n" + new + "\n")
        return
    assert old in text, f"{old!r} is not in {path.name}: the README example needs updating"
    path.write_text(text.replace(old, new))


def any_dmt_kb(tmp_path: Path) -> Path:
    """README example (a): step therapy lowered to one prior DMT of any kind."""
    kb = copy_kb(tmp_path, "kb-any-dmt")
    edit(kb / "catalogue.lp", 'node("I4", all_of).', 'node("I4", leaf).')
    edit(kb / "catalogue.lp", 'child("I4", ("I4.a"; "I4.b")).\n', "")
    edit(kb / "criteria/i4_step_therapy.lp", None, ANY_DMT_RULES)
    return kb


def no_natalizumab_kb(tmp_path: Path) -> Path:
    """README example (b): the natalizumab requirement removed."""
    kb = copy_kb(tmp_path, "kb-no-natalizumab")
    edit(kb / "catalogue.lp", 'child("I4", ("I4.a"; "I4.b")).', 'child("I4", "I4.b").')
    return kb


def texas_kb(tmp_path: Path) -> Path:
    """README example (c): Texas added to the state mandate table."""
    kb = copy_kb(tmp_path, "kb-texas")
    edit(kb / "state_mandates.lp", None, 'state_mandate("TX", "I4").')
    return kb


EDITS = {"any-dmt": any_dmt_kb, "no-natalizumab": no_natalizumab_kb, "texas": texas_kb}


def generated(folder: Path, n: int) -> Path:
    path = folder / "corpus.jsonl"
    result = CliRunner().invoke(main, ["generate", "--n", str(n), "--seed", "1", "--out", str(path)])
    assert result.exit_code == 0
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The README's corpus: lemtrada-asp generate --n 2000 --seed 1.

    Only the tests that compare with the README's numbers use it: each diff of it
    decides 2 x 2,000 cases.
    """
    return generated(tmp_path_factory.mktemp("corpus"), 2000)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    """generate --n 500 --seed 1: for the tests whose point is how a diff reads and reports,
    not the README's counts. It has changed cases under the no-natalizumab edit (18), so
    those tests still see changes to check; a quarter of the deciding of the README corpus.
    """
    return generated(tmp_path_factory.mktemp("small-corpus"), 500)


@pytest.fixture(scope="module")
def texas_corpus(small_corpus, tmp_path_factory) -> Path:
    """The small corpus twice: as generated, and each case again with its member in Texas.

    The README corpus has 2 cases the Texas mandate changes; here every case whose only
    failure is I4 is there in Texas (it must change) and, unless generated in Texas, in
    another state (it must not): more to check, on half the cases.
    """
    path = tmp_path_factory.mktemp("texas-corpus") / "corpus.jsonl"
    lines = small_corpus.read_text().splitlines()
    texans = [json.dumps(vary(json.loads(line), {"id": json.loads(line)["id"] + "-TX", "member.state": "TX"})) for line in lines]
    path.write_text("\n".join(lines + texans) + "\n")
    return path


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def transitions(output: str) -> dict[str, int]:
    """The transition table of a diff's text output."""
    table = {}
    for line in output.splitlines():
        found = re.match(r"^  (\S.*? -> .*?)\s+(\d+)(\s+\(.*\))?$", line)
        if found:
            table[found.group(1).strip()] = int(found.group(2))
    return table


@pytest.mark.slow
def test_a_kb_compared_with_an_unchanged_copy_changes_nothing(tmp_path, small_corpus):
    result = run("diff", "--kb", str(copy_kb(tmp_path, "same")), str(small_corpus))
    assert result.exit_code == 0, result.output
    assert "500 cases compared: 0 changed, 500 unchanged." in result.output


@pytest.mark.slow
def test_texas_in_the_mandate_table_only_turns_denials_into_state_mandate_pends(tmp_path, texas_corpus):
    kb = texas_kb(tmp_path)
    result = run("diff", "--kb", str(kb), str(texas_corpus), "--format", "json")
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    summary, changes = lines[0]["summary"], lines[1:]
    assert summary["changed"] == len(changes) > 0
    assert summary["transitions"] == [{"from": "deny", "to": "pend (state_mandate)", "count": len(changes)}]
    cases = {json.loads(line)["id"]: json.loads(line) for line in texas_corpus.read_text().splitlines()}
    for change in changes:
        assert change["base"]["failed"] == ["I4"] and change["kb"]["pend_reason"] == "state_mandate"
        assert cases[change["case_id"]]["member"]["state"] == "TX"
        assert change["statuses"] == {}  # no criterion changed: the decision rule did


@pytest.mark.slow
def test_removing_natalizumab_only_loosens_and_always_through_i4(tmp_path, small_corpus):
    result = run("diff", "--kb", str(no_natalizumab_kb(tmp_path)), str(small_corpus), "--format", "json")
    assert result.exit_code == 1
    changes = [json.loads(line) for line in result.output.splitlines()[1:]]
    assert changes  # the checks below are about each change: there must be some
    rank = {"deny": 0, "pend": 1, "approve": 2}
    for change in changes:
        assert rank[change["kb"]["decision"]] >= rank[change["base"]["decision"]]
        assert "I4" in change["base"]["failed"] + change["base"]["missing"]
        assert "I4" not in change["kb"]["failed"] + change["kb"]["missing"] or change["statuses"]["I4"]["base"] == "not_met"
        assert change["statuses"]["I4.a"]["kb"] == "not evaluated"


@pytest.mark.slow
def test_text_output_has_the_transition_table_then_each_case_with_why(tmp_path, small_corpus):
    result = run("diff", "--base", str(KB_DIR), "--kb", str(no_natalizumab_kb(tmp_path)), str(small_corpus))
    out = result.output
    table = transitions(out)
    assert sum(table.values()) == int(re.search(r"(\d+) changed", out).group(1))
    assert out.index("transition") < out.index("Changed cases:")
    assert re.search(r"\n\S+ \(.*corpus.jsonl:\d+\): .* -> .*\n(    .*\n)*    because: I4 ", out)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EDITS))
def test_the_readme_shows_the_transitions_the_diff_gives(tmp_path, corpus, name):
    readme = (REPO / "lemtrada_asp" / "analysis" / "README.md").read_text()  # the workbench guide
    section = readme[readme.index(f"<!-- diff example: {name} -->"):]
    section = section[: section.index("```", section.index("```") + 3)]
    documented = transitions(section)
    assert documented, f"the README's {name} example has no transition table"
    assert transitions(run("diff", "--kb", str(EDITS[name](tmp_path)), str(corpus)).output) == documented


def test_invalid_cases_are_reported_and_the_others_still_compared(tmp_path):
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps(INITIAL) + "\n{oops\n" + json.dumps(vary(INITIAL, {"id": "T-2", "member.state": "TX", "dmt_history": [{"drug": "natalizumab", "outcome": "effective"}, {"drug": "fingolimod", "outcome": "failed"}]})) + "\n")
    result = run("diff", "--kb", str(texas_kb(tmp_path)), str(batch))
    assert result.exit_code == 2
    assert f"{batch}:2: malformed JSON" in result.output
    assert "2 cases compared: 1 changed" in result.output and "T-2 (" in result.output


@pytest.mark.slow
def test_a_broken_kb_exits_3_and_standard_input_is_refused(tmp_path, small_corpus):
    kb = copy_kb(tmp_path, "broken")
    edit(kb / "hooks.lp", None, "decision(K, approve :- case(K).")
    broken = run("diff", "--kb", str(kb), str(small_corpus))
    assert broken.exit_code == 3 and "hooks.lp:" in broken.output
    stdin = run("diff", "--kb", str(KB_DIR), "-")
    assert stdin.exit_code == 2 and "cannot read standard input" in stdin.output
    assert run("diff", "--kb", str(KB_DIR)).exit_code == 2  # no PATHS, no --exhaustive


# --- every possible case ------------------------------------------------------------


@pytest.mark.slow
def test_exhaustive_on_an_unchanged_copy_finds_no_class(tmp_path):
    result = run("diff", "--exhaustive", "--kb", str(copy_kb(tmp_path, "same")))
    assert result.exit_code == 0 and "No case decides differently." in result.output


@pytest.mark.slow
def test_exhaustive_texas_is_one_class_of_i4_only_failures_in_texas(tmp_path):
    result = run("diff", "--exhaustive", "--kb", str(texas_kb(tmp_path)), "--format", "json")
    assert result.exit_code == 1
    summary, *classes = [json.loads(line) for line in result.output.splitlines()]
    assert summary["summary"]["changed_criteria"] == [] and summary["summary"]["complete"]
    assert len(classes) == 1
    conditions = {c["feature"]: c["values"] for c in classes[0]["conditions"]}
    assert conditions["member.state"] == ["TX"] and conditions["I4"] == ["not_met"]
    assert classes[0]["transitions"] == [{"from": "deny", "to": "pend (state_mandate)"}]
    assert classes[0]["confirmed"]


@pytest.mark.slow
def test_exhaustive_witnesses_are_case_files_that_decide_confirms_under_both_kbs(tmp_path):
    kb = no_natalizumab_kb(tmp_path)
    out = tmp_path / "witnesses"
    result = run("diff", "--exhaustive", "--kb", str(kb), "--witnesses", str(out), "--format", "json")
    assert result.exit_code == 1
    summary, *classes = [json.loads(line) for line in result.output.splitlines()]
    assert summary["summary"]["changed_criteria"] == ["I4", "I4.a"]
    # described in the terms of the rules that changed: I4 under the base KB and under the edited one
    assert classes and all("I4 (base)" in c["description"] or "I4.a (base)" in c["description"] for c in classes)
    for cls in classes:
        before = json.loads(run("decide", cls["witness_file"], "--format", "json", "--no-corrections").output)
        after = json.loads(run("decide", cls["witness_file"], "--format", "json", "--no-corrections", "--kb", str(kb)).output)
        assert (before["decision"], before["pend_reason"]) != (after["decision"], after["pend_reason"]) or before["failed"] != after["failed"] or before["missing"] != after["missing"]
        assert before["decision"] == cls["witness_outcome"]["base"]["decision"]
        assert after["decision"] == cls["witness_outcome"]["kb"]["decision"]


@pytest.mark.slow
def test_exhaustive_finds_the_same_changes_as_a_10000_case_generated_corpus(tmp_path):
    """Done when: every case a 10,000-case corpus finds changed lies in an exhaustive class, and no other."""
    kb = any_dmt_kb(tmp_path)
    corpus = tmp_path / "corpus.jsonl"
    cases = {}
    with corpus.open("w") as out:
        for case in generate_cases(10_000, 5):
            cases[case["id"]] = case
            out.write(json.dumps(case) + "\n")
    analysis = ImpactAnalysis(KB_DIR, kb)
    impact = analysis.run()
    assert impact.complete and all(c.confirmed for c in impact.classes)
    tally = {"changed in a class": 0, "unchanged outside": 0, "changed outside": [], "unchanged inside": [], "outside the space": []}
    # One process per KB: on two cores, two worker pools of two (each worker deriving its
    # own cold cache) took longer than deciding here (74 s against 104 s for the 20,000
    # decisions); the workers' results are checked against one process in test_batch.py.
    for result, change in compare_paths([str(corpus)], KB_DIR, kb, jobs=1, every_status=True):
        case = validate_case(cases[result.decision["case_id"]], "corpus")
        where = analysis.values_of(result, change)
        if where is None:
            tally["outside the space"].append(case.id)
            continue
        inside = any(c.cube.contains(where) for c in impact.classes)
        if change is not None and inside:
            tally["changed in a class"] += 1
        elif change is None and not inside:
            tally["unchanged outside"] += 1
        else:
            tally["changed outside" if change else "unchanged inside"].append(case.id)
    assert tally["outside the space"] == [] and tally["changed outside"] == [] and tally["unchanged inside"] == []
    assert tally["changed in a class"] > 100 and tally["unchanged outside"] > 1000
